namespace SemPPL.GraphGen.Tests.Support;

// Convolution, pooling and BatchNormalization references (NCHW, row-major, double precision),
// written from the ONNX operator definitions with plain loops.
public static partial class Reference
{
    /// <summary>
    /// 2-D convolution. x [N,C,H,W], w [M,C/group,kH,kW], optional bias [M];
    /// pads [top, left, bottom, right]; output [N,M,Ho,Wo] with Ho = floor((H + pt + pb - ((kH-1)*dH + 1)) / sH) + 1.
    /// </summary>
    public static double[] Conv2d(long[] xs, double[] x, long[] ws, double[] w, double[]? bias,
        long[] strides, long[] pads, long[] dilations, long group, out long[] outShape)
    {
        long n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
        long m = ws[0], cg = ws[1], kh = ws[2], kw = ws[3];
        if (cg * group != c || m % group != 0) throw new ArgumentException("channel/group mismatch");
        long mg = m / group;
        long ho = (h + pads[0] + pads[2] - ((kh - 1) * dilations[0] + 1)) / strides[0] + 1;
        long wo = (wd + pads[1] + pads[3] - ((kw - 1) * dilations[1] + 1)) / strides[1] + 1;
        outShape = [n, m, ho, wo];
        var y = new double[n * m * ho * wo];
        for (long b = 0; b < n; b++)
        for (long oc = 0; oc < m; oc++)
        {
            long gi = oc / mg;
            for (long oy = 0; oy < ho; oy++)
            for (long ox = 0; ox < wo; ox++)
            {
                double acc = bias is null ? 0 : bias[oc];
                for (long ic = 0; ic < cg; ic++)
                {
                    long cin = gi * cg + ic;
                    for (long i = 0; i < kh; i++)
                    {
                        long iy = oy * strides[0] - pads[0] + i * dilations[0];
                        if (iy < 0 || iy >= h) continue;
                        for (long j = 0; j < kw; j++)
                        {
                            long ix = ox * strides[1] - pads[1] + j * dilations[1];
                            if (ix < 0 || ix >= wd) continue;
                            acc += x[((b * c + cin) * h + iy) * wd + ix] * w[((oc * cg + ic) * kh + i) * kw + j];
                        }
                    }
                }
                y[((b * m + oc) * ho + oy) * wo + ox] = acc;
            }
        }
        return y;
    }

    /// <summary>
    /// The Conv weight gradient written directly from its definition: dW[m, c', i, j] = sum over n, oy, ox of
    /// dY[n, m, oy, ox] * x[n, g*C/G + c', oy*sH - pt + i*dH, ox*sW - pl + j*dW] (zero outside the input).
    /// </summary>
    public static double[] Conv2dWeightGrad(long[] xs, double[] x, long[] ws, long[] ys, double[] dy,
        long[] strides, long[] pads, long[] dilations, long group)
    {
        long n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
        long m = ws[0], cg = ws[1], kh = ws[2], kw = ws[3], mg = m / group, ho = ys[2], wo = ys[3];
        var dw = new double[m * cg * kh * kw];
        for (long oc = 0; oc < m; oc++)
        for (long ic = 0; ic < cg; ic++)
        for (long i = 0; i < kh; i++)
        for (long j = 0; j < kw; j++)
        {
            long cin = oc / mg * cg + ic;
            double acc = 0;
            for (long b = 0; b < n; b++)
            for (long oy = 0; oy < ho; oy++)
            {
                long iy = oy * strides[0] - pads[0] + i * dilations[0];
                if (iy < 0 || iy >= h) continue;
                for (long ox = 0; ox < wo; ox++)
                {
                    long ix = ox * strides[1] - pads[1] + j * dilations[1];
                    if (ix < 0 || ix >= wd) continue;
                    acc += dy[((b * m + oc) * ho + oy) * wo + ox] * x[((b * c + cin) * h + iy) * wd + ix];
                }
            }
            dw[((oc * cg + ic) * kh + i) * kw + j] = acc;
        }
        return dw;
    }

    /// <summary>Output size of a pooling window (floor or ceil mode; in ceil mode the last window must start inside the input or the begin pad).</summary>
    public static long PoolOut(long input, long kernel, long stride, long padBegin, long padEnd, bool ceil)
    {
        long span = input + padBegin + padEnd - kernel;
        long o = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (o - 1) * stride >= input + padBegin) o--;
        return o;
    }

    /// <summary>MaxPool over [N,C,H,W]; padded positions never win.</summary>
    public static double[] MaxPool2d(long[] xs, double[] x, long[] kernel, long[] strides, long[] pads, out long[] outShape, bool ceil = false)
    {
        long n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
        long ho = PoolOut(h, kernel[0], strides[0], pads[0], pads[2], ceil);
        long wo = PoolOut(wd, kernel[1], strides[1], pads[1], pads[3], ceil);
        outShape = [n, c, ho, wo];
        var y = new double[n * c * ho * wo];
        for (long p = 0; p < n * c; p++)
        for (long oy = 0; oy < ho; oy++)
        for (long ox = 0; ox < wo; ox++)
        {
            double best = double.NegativeInfinity;
            for (long i = 0; i < kernel[0]; i++)
            {
                long iy = oy * strides[0] - pads[0] + i;
                if (iy < 0 || iy >= h) continue;
                for (long j = 0; j < kernel[1]; j++)
                {
                    long ix = ox * strides[1] - pads[1] + j;
                    if (ix < 0 || ix >= wd) continue;
                    best = Math.Max(best, x[(p * h + iy) * wd + ix]);
                }
            }
            y[(p * ho + oy) * wo + ox] = best;
        }
        return y;
    }

    /// <summary>
    /// AveragePool over [N,C,H,W]. The divisor counts the window positions inside the input
    /// (count_include_pad = 0) or inside the padded input (count_include_pad = 1).
    /// </summary>
    public static double[] AvgPool2d(long[] xs, double[] x, long[] kernel, long[] strides, long[] pads, bool countIncludePad, out long[] outShape, bool ceil = false)
    {
        long n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
        long ho = PoolOut(h, kernel[0], strides[0], pads[0], pads[2], ceil);
        long wo = PoolOut(wd, kernel[1], strides[1], pads[1], pads[3], ceil);
        outShape = [n, c, ho, wo];
        var y = new double[n * c * ho * wo];
        for (long p = 0; p < n * c; p++)
        for (long oy = 0; oy < ho; oy++)
        for (long ox = 0; ox < wo; ox++)
        {
            double sum = 0; long count = 0;
            for (long i = 0; i < kernel[0]; i++)
            {
                long iy = oy * strides[0] - pads[0] + i;
                bool inPadY = iy >= -pads[0] && iy < h + pads[2];
                for (long j = 0; j < kernel[1]; j++)
                {
                    long ix = ox * strides[1] - pads[1] + j;
                    bool inPadX = ix >= -pads[1] && ix < wd + pads[3];
                    bool inside = iy >= 0 && iy < h && ix >= 0 && ix < wd;
                    if (inside) sum += x[(p * h + iy) * wd + ix];
                    if (inside || (countIncludePad && inPadY && inPadX)) count++;
                }
            }
            y[(p * ho + oy) * wo + ox] = sum / count;
        }
        return y;
    }

    /// <summary>GlobalAveragePool: [N,C,H,W] -> [N,C,1,1].</summary>
    public static double[] GlobalAvgPool(long[] xs, double[] x)
    {
        long nc = xs[0] * xs[1], hw = xs[2] * xs[3];
        var y = new double[nc];
        for (long p = 0; p < nc; p++)
        {
            double s = 0;
            for (long k = 0; k < hw; k++) s += x[p * hw + k];
            y[p] = s / hw;
        }
        return y;
    }

    /// <summary>Inference-mode BatchNormalization over axis 1 of [N,C,...]: (x - mean) / sqrt(var + eps) * scale + bias.</summary>
    public static double[] BatchNormInference(long[] xs, double[] x, double[] scale, double[] bias, double[] mean, double[] variance, double epsilon)
    {
        long c = xs[1], inner = xs.Skip(2).Aggregate(1L, (a, d) => a * d);
        var y = new double[x.Length];
        for (long k = 0; k < x.Length; k++)
        {
            long ch = k / inner % c;
            y[k] = (x[k] - mean[ch]) / Math.Sqrt(variance[ch] + epsilon) * scale[ch] + bias[ch];
        }
        return y;
    }

    /// <summary>
    /// Training-mode BatchNormalization on batch statistics over every axis but 1: the output, the batch
    /// mean, the biased batch variance (used to normalise) and the unbiased one (used for running statistics).
    /// </summary>
    public static (double[] Y, double[] Mean, double[] BiasedVar, double[] UnbiasedVar) BatchNormTraining(
        long[] xs, double[] x, double[] scale, double[] bias, double epsilon)
    {
        long n = xs[0], c = xs[1], inner = xs.Skip(2).Aggregate(1L, (a, d) => a * d), count = n * inner;
        var mean = new double[c]; var biased = new double[c]; var unbiased = new double[c];
        for (long ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (long b = 0; b < n; b++) for (long k = 0; k < inner; k++) s += x[(b * c + ch) * inner + k];
            mean[ch] = s / count;
            double q = 0;
            for (long b = 0; b < n; b++) for (long k = 0; k < inner; k++) { double d = x[(b * c + ch) * inner + k] - mean[ch]; q += d * d; }
            biased[ch] = q / count;
            unbiased[ch] = q / Math.Max(1, count - 1);
        }
        var y = new double[x.Length];
        for (long k = 0; k < x.Length; k++)
        {
            long ch = k / inner % c;
            y[k] = (x[k] - mean[ch]) / Math.Sqrt(biased[ch] + epsilon) * scale[ch] + bias[ch];
        }
        return (y, mean, biased, unbiased);
    }
}
