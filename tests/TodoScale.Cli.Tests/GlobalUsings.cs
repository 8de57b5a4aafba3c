global using TodoScale.Testing;
global using Xunit;
