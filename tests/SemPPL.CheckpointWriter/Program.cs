// Child process for the checkpoint kill test:
//   dotnet SemPPL.CheckpointWriter.dll <runFolder> <bigElements> <sleepMsPerChunk>
// Saves checkpoint 1 (small), prints "saved 1", then saves checkpoint 2 (bigElements floats) in 64 KiB
// chunks with a sleep after each, printing "writing 2" at the first chunk; prints "saved 2" when done.
// The test kills it (SIGKILL) while checkpoint 2 is being written.
using SemPPL.GraphGen.Artifacts;
using SemPPL.GraphGen.Onnx;
using SemPPL.Trainer.Checkpoints;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: SemPPL.CheckpointWriter <runFolder> <bigElements> <sleepMsPerChunk>");
    return 2;
}
string run = args[0];
int big = int.Parse(args[1]);
int sleepMs = int.Parse(args[2]);

var store = new CheckpointStore(run, keepLast: 3);
store.Save(1, Step1Tensors(), new Dictionary<string, string> { ["rng"] = "{\"s\":[1,2,3,4]}" });
Console.WriteLine("saved 1");
Console.Out.Flush();

var data = new float[big];
for (int i = 0; i < big; i++) data[i] = i * 0.5f;
bool announced = false;
store.Save(2, [("w", HostTensor.Float([big], data))], null, new TensorFileWriteOptions
{
    ChunkBytes = 64 << 10,
    Progress = (_, _) =>
    {
        if (!announced)
        {
            announced = true;
            Console.WriteLine("writing 2");
            Console.Out.Flush();
        }
        Thread.Sleep(sleepMs);
    },
});
Console.WriteLine("saved 2");
return 0;

static List<(string, HostTensor)> Step1Tensors()
{
    // Deterministic contents the test rebuilds to compare bit for bit.
    var w = new float[1000];
    for (int i = 0; i < w.Length; i++) w[i] = MathF.Sin(i) * 1e3f;
    return [("w", HostTensor.Float([10, 100], w)), ("count", HostTensor.Int64([1], [7]))];
}
