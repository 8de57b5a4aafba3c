global using Npgsql;
global using TodoScale.Application.Data;
global using TodoScale.Application.Todos;
global using TodoScale.Testing;
global using Xunit;
