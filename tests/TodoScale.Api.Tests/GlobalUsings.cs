global using System.Net;
global using System.Net.Http.Json;
global using Microsoft.Extensions.DependencyInjection;
global using Microsoft.Extensions.Logging;
global using Npgsql;
global using TodoScale.Application.Todos;
global using TodoScale.Testing;
global using Xunit;
