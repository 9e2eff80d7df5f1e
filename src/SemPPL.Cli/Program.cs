using System.CommandLine;
using SemPPL.Cli;

// semppl: train, evaluate, export SemPPL models and predict with them (README, "Command line").
var root = new RootCommand("semppl: semi-supervised representation learning (SemPPL) on ONNX Runtime, CPU or CUDA")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
    ExportCommand.Create(),
    BaselineCommand.Create(),
    PredictCommand.Create(),
};
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line in the same form as every other failure, instead of System.CommandLine's (which names .NET types).
    string verb = parse.CommandResult.Command == root ? "" : parse.CommandResult.Command.Name + " ";
    return CliErrors.Fail($"{string.Join(" ", parse.Errors.Select(e => e.Message))} (semppl {verb}--help lists the options)", CliErrors.InvalidInput);
}
return parse.Invoke();
