[assembly: AssemblyFixture(typeof(TodoScale.Testing.PostgresServer))]
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
[assembly: AssemblyFixture(typeof(TodoScale.Testing.CitusServer))]
