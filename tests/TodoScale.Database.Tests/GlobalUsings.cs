global using Npgsql;
global using TodoScale.Testing;
global using static TodoScale.Testing.Sql;
global using Xunit;
