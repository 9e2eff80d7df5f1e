Console.Error.WriteLine("graphgen: not built yet (see issues).");
return 2;
