Console.Error.WriteLine("semppl: the trainer CLI is not built yet (see issues).");
return 2;
