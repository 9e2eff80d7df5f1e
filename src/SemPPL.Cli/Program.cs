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
return root.Parse(args).Invoke();
