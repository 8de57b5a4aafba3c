global using Npgsql;
global using TodoScale.Testing;
global using Xunit;
