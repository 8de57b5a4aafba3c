[assembly: AssemblyFixture(typeof(TodoScale.Testing.PostgresServer))]
[assembly: AssemblyFixture(typeof(TodoScale.Testing.CitusServer))]
