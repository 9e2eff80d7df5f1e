using Microsoft.ML.OnnxRuntime;

namespace SemPPL.Trainer.Runtime;

/// <summary>Session settings that are not the device. Null members take the defaults.</summary>
public sealed record SessionSettings
{
    /// <summary>Intra-op threads; null = <see cref="Environment.ProcessorCount"/>.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>Let idle intra-op threads spin (faster on a dedicated machine, wasteful on a shared one).</summary>
    public bool AllowSpinning { get; init; } = true;

    /// <summary>What a run uses: the config's <c>threads</c> (0 = auto: the processor count) and no spinning (spinning
    /// threads take the cores the data workers need). On the 2-core benchmark machine, step benchmark medians:
    /// ResNet-18 at 32 px (case a) 3.19 s with 2 threads vs 5.04 s with 1; the quickstart network (case b), whose
    /// backward now runs on NCHWc kernels too, 469 vs 384 images/s in a training run with 2 threads vs 1 (before
    /// that lowering, 1 thread won: 118 vs 134 ms, 196 ms with 2 spinning).</summary>
    public static SessionSettings ForRun(int configThreads) => new()
    {
        IntraOpThreads = configThreads > 0 ? configThreads : Environment.ProcessorCount,
        AllowSpinning = false,
        OptimizedModelCacheDirectory = Runtime.OptimizedModelCache.DirectoryFromEnvironment(),
    };

    /// <summary>Folder of the <see cref="Runtime.OptimizedModelCache"/> for CPU sessions; null (the default): every
    /// session optimises its graph. Runs use the user's cache folder (<see cref="ForRun"/>).</summary>
    public string? OptimizedModelCacheDirectory { get; init; }

    /// <summary>Lower CPU convolutions to ORT's NCHWc kernels (see <see cref="SessionFactory.LowersConvolutions"/>);
    /// null = as <see cref="SessionFactory.CpuConvLayoutVariable"/> says (default: yes).</summary>
    public bool? LowerConvolutions { get; init; }

    /// <summary>ONNX Runtime's graph optimisation level; null = as <see cref="SessionFactory.OptimizationVariable"/> says (default: all).</summary>
    public GraphOptimizationLevel? OptimizationLevel { get; init; }

    /// <summary>ONNX Runtime log severity (0 verbose .. 4 fatal).</summary>
    public OrtLoggingLevel LogLevel { get; init; } = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;
}

/// <summary>The device could not be used as the config asked (explicit <c>cuda</c> that cannot start).</summary>
public sealed class DeviceUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Decides the execution device once and creates every <see cref="InferenceSession"/> of a run for it.
/// <list type="bullet">
/// <item><c>cpu</c>: CPU execution provider.</item>
/// <item><c>cuda</c>/<c>cuda:N</c>: CUDA execution provider on device N; when this ONNX Runtime build has no
/// CUDA provider, or CUDA cannot start (missing libraries, no device), a <see cref="DeviceUnavailableException"/>.</item>
/// <item><c>auto</c>: CUDA device 0 when it starts, else the CPU. When the build has a CUDA provider but it
/// fails, <see cref="FallbackReason"/> holds the exception message and ONE notice line is reported; when the
/// build simply has no CUDA provider (the CPU package), the CPU is chosen silently and FallbackReason is null.</item>
/// </list>
/// CUDA is probed by appending the provider and creating a tiny session (the copy session of
/// <see cref="DeviceCopier"/>), so failures that only show at session creation are caught too.
/// Sessions use graph optimisation level ALL, sequential execution, intra-op threads = processor count
/// unless set, and on CUDA a heuristic (deterministically chosen) cuDNN convolution algorithm. CPU sessions open a
/// copy of the graph with its convolutions lowered to ORT's NCHWc kernels (<see cref="LowersConvolutions"/>), and,
/// with a <see cref="SessionSettings.OptimizedModelCacheDirectory"/>, load ORT's optimised form of the graph from there when an
/// earlier session stored it (<see cref="ModelCache"/>).
/// The factory also owns the device allocator, so it must outlive every <see cref="DeviceTensor"/> it allocated.
/// </summary>
public sealed class SessionFactory : IDisposable
{
    public const string CudaProviderName = "CUDAExecutionProvider";

    private readonly SessionSettings _settings;
    private readonly GraphOptimizationLevel _optimizationLevel;
    private readonly string _convAlgorithmSearch;
    private readonly bool _lowerConvolutions;
    private readonly Action<string> _notice;
    private DeviceCopier? _copier;
    private bool _disposed;

    public SessionFactory(ExecutionDevice requested, SessionSettings? settings = null, Action<string>? notice = null)
    {
        Requested = requested;
        _settings = settings ?? new SessionSettings();
        if (_settings.IntraOpThreads is < 0)
            throw new ArgumentOutOfRangeException(nameof(settings), "IntraOpThreads must be >= 0");
        IntraOpThreads = _settings.IntraOpThreads is > 0 ? _settings.IntraOpThreads.Value : Environment.ProcessorCount;
        _optimizationLevel = _settings.OptimizationLevel ?? ParseOptimizationLevel(Environment.GetEnvironmentVariable(OptimizationVariable));
        _convAlgorithmSearch = ParseConvAlgorithmSearch(Environment.GetEnvironmentVariable(ConvAlgorithmSearchVariable));
        _lowerConvolutions = _settings.LowerConvolutions ?? CpuConvLayoutFromEnvironment;
        notice ??= line => Console.Error.WriteLine(line);
        _notice = notice;

        if (requested.Kind == DeviceKind.Cpu)
        {
            UseCpu();
            return;
        }

        int id = requested.DeviceId;   // auto: 0, or the rank's GPU (ExecutionDevice.ForRank)
        if (!CudaProviderAvailable)
        {
            if (requested.Kind == DeviceKind.Cuda)
                throw new DeviceUnavailableException(
                    $"device: '{requested}' was requested, but this ONNX Runtime build has no CUDA execution provider " +
                    $"(available: {string.Join(", ", AvailableProviders)}). Build with -p:OrtGpu=true on a machine with CUDA 13 and cuDNN 9, or set device: cpu.");
            UseCpu(); // the CPU package: nothing failed, nothing to report
            return;
        }

        try
        {
            IsCuda = true;
            DeviceId = id;
            DeviceMemoryInfo = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, id, OrtMemType.Default);
            _copier = new DeviceCopier(this); // creates a CUDA session: the probe
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or TypeInitializationException)
        {
            _copier?.Dispose();
            _copier = null;
            DeviceMemoryInfo?.Dispose();
            string reason = FirstLine(e.Message);
            if (requested.Kind == DeviceKind.Cuda)
                throw new DeviceUnavailableException($"device: '{requested}' could not start CUDA: {reason}", e);
            FallbackReason = reason;
            UseCpu();
            notice($"device: auto: CUDA is not usable ({reason}); running on the CPU");
        }
    }

    /// <summary>Providers compiled into the loaded ONNX Runtime library.</summary>
    public static IReadOnlyList<string> AvailableProviders => OrtEnv.Instance().GetAvailableProviders();

    /// <summary>Whether the loaded ONNX Runtime library has a CUDA execution provider (the GPU package).</summary>
    public static bool CudaProviderAvailable => AvailableProviders.Contains(CudaProviderName);

    public ExecutionDevice Requested { get; }
    public bool IsCuda { get; private set; }
    public int DeviceId { get; private set; }

    /// <summary>Why <c>auto</c> fell back to the CPU (the exception message), or null.</summary>
    public string? FallbackReason { get; private set; }

    public int IntraOpThreads { get; }

    /// <summary>Where device tensors live: CUDA device memory, or the CPU.</summary>
    public OrtMemoryInfo DeviceMemoryInfo { get; private set; } = null!;

    /// <summary>One line for logs: "cuda:0", "cpu", "cpu (auto: CUDA is not usable: ...)".</summary>
    public string Description => IsCuda ? $"cuda:{DeviceId}"
        : FallbackReason is null ? "cpu" : $"cpu (auto: CUDA is not usable: {FallbackReason})";

    /// <summary>New session options for the chosen device; the caller owns (and disposes) them.</summary>
    public SessionOptions CreateOptions()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var o = new SessionOptions
        {
            GraphOptimizationLevel = _optimizationLevel,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = IntraOpThreads,
            InterOpNumThreads = 1,
            LogSeverityLevel = _settings.LogLevel,
        };
        try
        {
            o.AddSessionConfigEntry("session.intra_op.allow_spinning", _settings.AllowSpinning ? "1" : "0");
            if (IsCuda)
            {
                using var cuda = new OrtCUDAProviderOptions();
                cuda.UpdateOptions(new Dictionary<string, string>
                {
                    ["device_id"] = DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    // EXHAUSTIVE benchmarks at start and may pick different algorithms run to run.
                    ["cudnn_conv_algo_search"] = _convAlgorithmSearch,
                    ["do_copy_in_default_stream"] = "1",
                });
                o.AppendExecutionProvider_CUDA(cuda);
            }
            return o;
        }
        catch
        {
            o.Dispose();
            throw;
        }
    }

    /// <summary>Environment variable that lowers ONNX Runtime's graph optimisation (disable | basic | extended | all),
    /// to tell a fusion's fault from a kernel's when a device disagrees with the CPU.</summary>
    public const string OptimizationVariable = "SEMPPL_ORT_GRAPH_OPTIMIZATION";

    /// <summary>Environment variable choosing cuDNN's convolution algorithm search: HEURISTIC (the default: the same
    /// algorithms every run), EXHAUSTIVE (benchmarks each convolution once per session, as torch.backends.cudnn.benchmark;
    /// faster steps, run-to-run choice may differ) or DEFAULT.</summary>
    public const string ConvAlgorithmSearchVariable = "SEMPPL_CUDNN_CONV_ALGO_SEARCH";

    /// <summary>The cuDNN search mode a value of <see cref="ConvAlgorithmSearchVariable"/> names (null or empty: HEURISTIC).</summary>
    public static string ParseConvAlgorithmSearch(string? value) => value?.Trim().ToUpperInvariant() switch
    {
        null or "" => "HEURISTIC",
        var v when v is "HEURISTIC" or "EXHAUSTIVE" or "DEFAULT" => v,
        var v => throw new ArgumentException($"{ConvAlgorithmSearchVariable}='{v}': expected HEURISTIC, EXHAUSTIVE or DEFAULT"),
    };

    /// <summary>The level a value of <see cref="OptimizationVariable"/> names (null or empty: all).</summary>
    public static GraphOptimizationLevel ParseOptimizationLevel(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "all" => GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disable" or "none" => GraphOptimizationLevel.ORT_DISABLE_ALL,
        var v => throw new ArgumentException($"{OptimizationVariable}='{v}': expected disable, basic, extended or all"),
    };

    /// <summary>Environment variable choosing how CPU sessions run convolutions: <c>nchwc</c> (the default: graph
    /// convolutions are lowered to ORT's blocked NCHWc kernels when the build has them, see NchwcConvLowering) or
    /// <c>nchw</c> (the graphs as written: ORT's im2col Conv and ConvTranspose).</summary>
    public const string CpuConvLayoutVariable = "SEMPPL_CPU_CONV_LAYOUT";

    /// <summary>Whether a value of <see cref="CpuConvLayoutVariable"/> asks for the NCHWc lowering (null or empty: yes).</summary>
    public static bool ParseCpuConvLayout(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "nchwc" => true,
        "nchw" => false,
        var v => throw new ArgumentException($"{CpuConvLayoutVariable}='{v}': expected nchwc or nchw"),
    };

    /// <summary>What <see cref="CpuConvLayoutVariable"/> asks for in this process (unset: lower).</summary>
    public static bool CpuConvLayoutFromEnvironment => ParseCpuConvLayout(Environment.GetEnvironmentVariable(CpuConvLayoutVariable));

    /// <summary>Whether this factory's CPU sessions run lowered convolutions (CPU device, NCHWc kernels in the
    /// build, not switched off by <see cref="CpuConvLayoutVariable"/>).</summary>
    public bool LowersConvolutions => !IsCuda && _lowerConvolutions && NchwcSupport.BlockSize > 1;

    /// <summary>Where this factory's CPU sessions keep their optimised graphs; null when they do not (CUDA sessions, or
    /// no <see cref="SessionSettings.OptimizedModelCacheDirectory"/>).</summary>
    public OptimizedModelCache? ModelCache { get; private set; }

    /// <summary>How long a session may take to create before the progress output says what it is doing.</summary>
    public static readonly TimeSpan SlowSessionNotice = TimeSpan.FromSeconds(2);

    /// <param name="name">For the progress output (e.g. the graph's file name).</param>
    public InferenceSession CreateSession(byte[] model, string name = "graph") => Create(model, name, modelPath: null);

    public InferenceSession CreateSession(string modelPath)
    {
        // ORT resolves a model's external data beside its path: read the bytes only when we lower or cache
        bool needBytes = LowersConvolutions || ModelCache is not null;
        return Create(needBytes ? File.ReadAllBytes(modelPath) : null, Path.GetFileName(modelPath), modelPath);
    }

    private InferenceSession Create(byte[]? model, string name, string? modelPath)
    {
        InferenceSession Optimise(Action<SessionOptions>? save = null)
        {
            using var o = CreateOptions();
            save?.Invoke(o);
            return model is null ? new InferenceSession(modelPath!, o) : new InferenceSession(LowersConvolutions ? NchwcSupport.Lower(model) : model, o);
        }
        if (ModelCache is null || model is null)
        {
            using (new SlowOperationNotice(_notice, $"optimising {name} for {Description} (ONNX Runtime graph optimisation)", SlowSessionNotice))
                return Optimise();
        }

        string key = CacheKey(model);
        using (new SlowOperationNotice(_notice, $"loading the optimised {name} from {ModelCache.Directory}", SlowSessionNotice))
        {
            if (ModelCache.TryOpen(key, LoadOptimised, _notice) is { } cached) return cached;
        }
        using (new SlowOperationNotice(_notice, $"optimising {name} for {Description} (first run; cached for next time in {ModelCache.Directory})", SlowSessionNotice))
            return ModelCache.Build(key, path => Optimise(o => OptimizedModelCache.SaveOptimizedModel(o, path)), () => Optimise(), _notice);
    }

    /// <summary>A stored optimised graph needs no further optimisation (and must not get ORT's NCHWc rewrite twice).</summary>
    private InferenceSession LoadOptimised(string path)
    {
        using var o = CreateOptions();
        o.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
        return new InferenceSession(path, o);
    }

    /// <summary>Everything ORT's optimised form of <paramref name="model"/> depends on: the graph, the ORT build, the
    /// device and the CPU's kernels (ORT's NCHWc rewrite uses the CPU's block size), the optimisation level, and our
    /// lowering (its block and the code that lowered: the GraphGen assembly's deterministic build id). Intra-op
    /// threads and spinning do not change the graph, so they are not part of it.</summary>
    public string CacheKey(byte[] model) => string.Join('\n',
        "semppl optimised-model cache 1",
        $"model: sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(model))}, {model.Length} bytes",
        $"onnxruntime: {OrtEnv.Instance().GetVersionString()}",
        $"device: {(IsCuda ? $"cuda:{DeviceId}" : "cpu")}",
        $"cpu: {CpuFeatures.Current}, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, NCHWc block {NchwcSupport.BlockSize}",
        $"optimisation: {_optimizationLevel}, {ExecutionMode.ORT_SEQUENTIAL}",
        $"lowering: {(LowersConvolutions ? $"nchwc block {NchwcSupport.BlockSize}{(NchwcSupport.Forms.Exceptions is { Length: > 0 } off ? ", " + off : "")}, {typeof(SemPPL.GraphGen.Lowering.NchwcConvLowering).Assembly.ManifestModule.ModuleVersionId}" : "none")}") + "\n";

    /// <summary>Host &lt;-&gt; device copies and the device allocator (lazily created on the CPU).</summary>
    internal DeviceCopier Copier
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _copier ??= new DeviceCopier(this);
        }
    }

    private void UseCpu()
    {
        IsCuda = false;
        DeviceId = 0;
        DeviceMemoryInfo = OrtMemoryInfo.DefaultInstance;
        if (_settings.OptimizedModelCacheDirectory is { } dir) ModelCache = new OptimizedModelCache(dir);
    }

    private static string FirstLine(string s)
    {
        s = s.Trim();
        int i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _copier?.Dispose();
        if (IsCuda) DeviceMemoryInfo.Dispose();
    }
}
