[assembly: AssemblyFixture(typeof(TodoScale.Testing.PostgresServer))]
