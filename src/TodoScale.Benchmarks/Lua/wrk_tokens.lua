-- wrk script of `todoscale bench run`'s API stage (run by WrkRunner).
-- Usage: wrk -t T -c C -d S -s wrk_tokens.lua URL -- TOKENS_FILE [SEED]
-- TOKENS_FILE holds one bearer token per line, one line per entry of the benchmark's user set: a user listed
-- several times is drawn that many times more often, which keeps the set's skew (bench_pick lists busy users
-- once per todo drawn). Each request draws a line at random; the requests are formatted once in init(), so the
-- per-request Lua work is one table lookup and wrk measures the server, not string building.
-- done() prints one line, "todoscale-wrk key=value ...", that WrkRunner parses; latencies in microseconds.

local thread_id = 0

function setup(thread)
   thread_id = thread_id + 1
   thread:set("id", thread_id)
end

local requests = {}

function init(args)
   local path = args[1]
   if path == nil then
      error("wrk_tokens.lua: pass the tokens file after --")
   end

   local file = assert(io.open(path, "r"))
   local formatted = {}
   for token in file:lines() do
      if token ~= "" then
         -- The same user's request string is shared by all its lines.
         local req = formatted[token]
         if req == nil then
            req = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
            formatted[token] = req
         end
         requests[#requests + 1] = req
      end
   end
   file:close()

   if #requests == 0 then
      error("wrk_tokens.lua: no tokens in " .. path)
   end

   -- Threads would otherwise draw the same sequence of users; SEED varies it between rounds.
   math.randomseed((tonumber(args[2]) or 0) + (tonumber(id) or 0) * 7919)
end

function request()
   return requests[math.random(#requests)]
end

function done(summary, latency, requests_)
   local e = summary.errors
   io.write(string.format(
      "todoscale-wrk requests=%d duration_us=%d connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeout_errors=%d p50_us=%d p95_us=%d p99_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
