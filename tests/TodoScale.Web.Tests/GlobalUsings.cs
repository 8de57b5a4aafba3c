global using System.Net;
global using System.Net.Http.Json;
global using Microsoft.Playwright;
global using Npgsql;
global using TodoScale.Testing;
global using Xunit;
global using static Microsoft.Playwright.Assertions;
