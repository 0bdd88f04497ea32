using System.Globalization;

namespace NormalizingFlows.Export;

/// <summary>
/// An ONNX graph under construction (opset <see cref="Opset"/>): named values, nodes in topological order (each op
/// helper appends one and returns its output's name), constant initializers, inputs and outputs. The graph's
/// floating-point type is <see cref="Real"/> (the model's T: float or double); constants made by <see cref="Const"/>
/// have it. <see cref="ToModel"/> encodes the ModelProto with <see cref="ProtoWriter"/>.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>The default-domain opset the graphs are written for.</summary>
    public const int Opset = 17;

    /// <summary>The IR version that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>ONNX TensorProto.DataType codes.</summary>
    public const int Float32 = 1, Int64 = 7, Bool = 9, Float64 = 11;

    // initializers, constants and the name counter are shared by a model's main graph, its loop bodies and its views
    private sealed class Store
    {
        public readonly List<ProtoWriter> Initializers = [];
        public readonly Dictionary<string, string> Constants = new(StringComparer.Ordinal);
        public int Next;
    }

    private readonly Store _store;
    private readonly List<ProtoWriter> _nodes;
    private readonly List<ProtoWriter> _inputs;
    private readonly List<ProtoWriter> _outputs;

    /// <summary>A graph computing in <paramref name="real"/> (<see cref="Float32"/> or <see cref="Float64"/>).</summary>
    public OnnxGraph(int real) : this(new Store(), [], [], [], real) { }

    private OnnxGraph(Store store, List<ProtoWriter> nodes, List<ProtoWriter> inputs, List<ProtoWriter> outputs, int real)
    {
        (_store, _nodes, _inputs, _outputs) = (store, nodes, inputs, outputs);
        Real = real;
    }

    /// <summary>The element type of the graph's real values.</summary>
    public int Real { get; }

    /// <summary>The same graph with real type <paramref name="real"/> for the constants made through it (a double view of a float graph computes in double).</summary>
    public OnnxGraph WithReal(int real) => real == Real ? this : new OnnxGraph(_store, _nodes, _inputs, _outputs, real);

    private string Fresh(string hint) => $"{hint}_{_store.Next++}";

    // ------------------------------------------------------------------ inputs, outputs, constants

    /// <summary>Declares a graph input of <paramref name="elemType"/> and shape <paramref name="dims"/> (ints, or strings for symbolic dimensions).</summary>
    public string Input(string name, int elemType, params object[] dims)
    {
        _inputs.Add(ValueInfo(name, elemType, dims));
        return name;
    }

    /// <summary>Declares a graph input of <paramref name="elemType"/> whose shape is left open (a loop body's state).</summary>
    private string OpenInput(string name, int elemType)
    {
        _inputs.Add(ValueInfo(name, elemType, null));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> (renamed to <paramref name="name"/> through an Identity) as a graph output.</summary>
    public void Output(string name, string value, int elemType, params object[] dims)
    {
        Node("Identity", [value], [name]);
        _outputs.Add(ValueInfo(name, elemType, dims));
    }

    private static ProtoWriter ValueInfo(string name, int elemType, object[]? dims)
    {
        var tensorType = new ProtoWriter().Varint(1, elemType);
        if (dims is not null)
        {
            var shape = new ProtoWriter();
            foreach (var d in dims)
            {
                var dim = new ProtoWriter();
                if (d is int i) dim.Varint(1, i); else dim.String(2, (string)d);
                shape.Message(1, dim);
            }
            tensorType.Message(2, shape);
        }
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }

    /// <summary>A real constant of shape <paramref name="dims"/> (a scalar when none), shared when repeated.</summary>
    public string Const(double[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * (Real == Float32 ? 4 : 8)];
        for (int i = 0; i < values.Length; i++)
        {
            if (Real == Float32) BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), (float)values[i]);
            else BitConverter.TryWriteBytes(bytes.AsSpan(8 * i), values[i]);
        }
        return Initializer(Real, bytes, dims, "c");
    }

    /// <summary>A real scalar constant.</summary>
    public string Scalar(double value) => Const([value]);

    /// <summary>An int64 constant of shape <paramref name="dims"/> (1-D of its length when none).</summary>
    public string Ints(long[] values, params long[] dims)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(8 * i), values[i]);
        return Initializer(Int64, bytes, dims.Length == 0 ? [values.Length] : dims, "i");
    }

    /// <summary>An int64 scalar constant.</summary>
    public string IntScalar(long value)
    {
        var bytes = new byte[8];
        BitConverter.TryWriteBytes(bytes, value);
        return Initializer(Int64, bytes, [], "i");
    }

    /// <summary>A boolean scalar constant.</summary>
    public string BoolScalar(bool value) => Initializer(Bool, [value ? (byte)1 : (byte)0], [], "b");

    private string Initializer(int type, byte[] raw, long[] dims, string hint)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export writes little-endian tensors");
        string key = type.ToString(CultureInfo.InvariantCulture) + ":" + string.Join(",", dims) + ":" + System.Convert.ToBase64String(raw);
        if (_store.Constants.TryGetValue(key, out var existing)) return existing;
        string name = Fresh(hint);
        var t = new ProtoWriter();
        foreach (long d in dims) t.Varint(1, d);
        t.Varint(2, type).String(8, name).Bytes(9, raw);
        _store.Initializers.Add(t);
        _store.Constants[key] = name;
        return name;
    }

    // ------------------------------------------------------------------ nodes

    /// <summary>Appends a node <paramref name="op"/> with integer/float/int-list attributes; returns its first output.</summary>
    public string Node(string op, string[] inputs, string[]? outputs = null, params (string Name, object Value)[] attributes)
    {
        outputs ??= [Fresh(op.ToLowerInvariant())];
        var node = new ProtoWriter();
        foreach (var i in inputs) node.String(1, i);
        foreach (var o in outputs) node.String(2, o);
        node.String(3, Fresh("n")).String(4, op);
        foreach (var (name, value) in attributes)
        {
            var a = new ProtoWriter().String(1, name);
            switch (value)
            {
                case int i: a.Varint(3, i).Varint(20, 2); break;
                case long l: a.Varint(3, l).Varint(20, 2); break;
                case float f: a.Float(2, f).Varint(20, 1); break;
                case double d: a.Float(2, (float)d).Varint(20, 1); break;
                case long[] ls: a.PackedVarints(8, ls).Varint(20, 7); break;
                case OnnxGraph body: a.Message(6, body.GraphProto(name, null)).Varint(20, 5); break;
                default: throw new ArgumentException($"attribute {name}: unsupported type {value.GetType().Name}");
            }
            node.Message(5, a);
        }
        _nodes.Add(node);
        return outputs[0];
    }

    public string Add(string a, string b) => Node("Add", [a, b]);
    public string Sub(string a, string b) => Node("Sub", [a, b]);
    public string Mul(string a, string b) => Node("Mul", [a, b]);
    public string Div(string a, string b) => Node("Div", [a, b]);
    public string Neg(string a) => Node("Neg", [a]);
    public string Exp(string a) => Node("Exp", [a]);
    public string Log(string a) => Node("Log", [a]);
    public string Abs(string a) => Node("Abs", [a]);
    public string Sqrt(string a) => Node("Sqrt", [a]);
    public string Tanh(string a) => Node("Tanh", [a]);
    public string Sigmoid(string a) => Node("Sigmoid", [a]);
    public string Relu(string a) => Node("Relu", [a]);
    public string Max(string a, string b) => Node("Max", [a, b]);
    public string Min(string a, string b) => Node("Min", [a, b]);
    public string Where(string condition, string a, string b) => Node("Where", [condition, a, b]);
    public string Less(string a, string b) => Node("Less", [a, b]);
    public string Greater(string a, string b) => Node("Greater", [a, b]);
    public string GreaterOrEqual(string a, string b) => Node("GreaterOrEqual", [a, b]);
    public string Equal(string a, string b) => Node("Equal", [a, b]);
    public string And(string a, string b) => Node("And", [a, b]);
    public string Or(string a, string b) => Node("Or", [a, b]);
    public string Not(string a) => Node("Not", [a]);
    public string Cast(string a, int to) => Node("Cast", [a], null, ("to", to));

    /// <summary><paramref name="a"/> (of element type <paramref name="from"/>) as <paramref name="to"/>: itself when they agree, else a Cast.</summary>
    public string Convert(string a, int from, int to) => from == to ? a : Cast(a, to);
    public string Floor(string a) => Node("Floor", [a]);
    public string Pow(string a, string b) => Node("Pow", [a, b]);
    public string Sin(string a) => Node("Sin", [a]);
    public string Cos(string a) => Node("Cos", [a]);
    public string IsNaN(string a) => Node("IsNaN", [a]);
    public string LessOrEqual(string a, string b) => Node("LessOrEqual", [a, b]);

    /// <summary>True where <paramref name="a"/> is neither infinite nor NaN.</summary>
    public string IsFinite(string a) => Not(Or(Node("IsInf", [a]), IsNaN(a)));

    /// <summary>True (a boolean scalar) when any entry of the boolean <paramref name="condition"/> is.</summary>
    public string Any(string condition)
        => Greater(Node("ReduceMax", [Concat(0, Reshape(Cast(condition, Int64), -1), Ints([0]))], null, ("keepdims", 0)), IntScalar(0)); // a 0 appended: false for no entries

    /// <summary>
    /// An ONNX <c>Loop</c>: <paramref name="body"/> maps the carried values (of element types <paramref name="types"/>,
    /// starting from <paramref name="initial"/>) to their next values and a boolean scalar "go on"; the loop runs while
    /// <paramref name="condition"/> (then the body's "go on") holds, at most <paramref name="maxTrips"/> times, and returns
    /// the last values. The body is a graph of its own with this graph's real type; it may use any value of this graph.
    /// </summary>
    public string[] Loop(long maxTrips, string condition, string[] initial, int[] types, Func<OnnxGraph, string[], (string GoOn, string[] Next)> body)
    {
        var b = new OnnxGraph(_store, [], [], [], Real);
        b.Input(Fresh("trip"), Int64);
        b.Input(Fresh("go"), Bool);
        var state = initial.Select((_, i) => b.OpenInput(Fresh("state"), types[i])).ToArray();
        var (goOn, next) = body(b, state);
        if (next.Length != initial.Length) throw new ArgumentException($"a loop body returned {next.Length} values for {initial.Length} carried ones");
        b._outputs.Add(ValueInfo(b.Node("Identity", [goOn], [Fresh("go_on")]), Bool, []));
        for (int i = 0; i < next.Length; i++) b._outputs.Add(ValueInfo(b.Node("Identity", [next[i]], [Fresh("next")]), types[i], null));
        var outputs = initial.Select(_ => Fresh("loop")).ToArray();
        Node("Loop", [IntScalar(maxTrips), condition, .. initial], outputs, ("body", b));
        return outputs;
    }

    /// <summary>a·b for a [N, K] and b [K, M] (a constant).</summary>
    public string MatMul(string a, string b) => Node("MatMul", [a, b]);

    /// <summary>x·Wᵀ + b with W [out, in] (PyTorch layout) given as a constant, b optional.</summary>
    public string Linear(string x, double[] weight, int outFeatures, int inFeatures, double[]? bias)
    {
        var w = Const(weight, outFeatures, inFeatures);
        return bias is null ? Node("Gemm", [x, w], null, ("transB", 1)) : Node("Gemm", [x, w, Const(bias, outFeatures)], null, ("transB", 1));
    }

    /// <summary>Columns <paramref name="columns"/> of a [N, D] value.</summary>
    public string Columns(string x, IReadOnlyList<int> columns) => Node("Gather", [x, Ints(columns.Select(c => (long)c).ToArray())], null, ("axis", 1));

    /// <summary>Column <paramref name="column"/> of a [N, D] value as [N, 1].</summary>
    public string Column(string x, int column) => Columns(x, [column]);

    /// <summary>Concatenation along <paramref name="axis"/>.</summary>
    public string Concat(int axis, params string[] parts) => parts.Length == 1 ? parts[0] : Node("Concat", parts, null, ("axis", axis));

    /// <summary>Sum over <paramref name="axis"/> (dropped unless <paramref name="keep"/>).</summary>
    public string ReduceSum(string x, int axis, bool keep = false) => Node("ReduceSum", [x, Ints([axis])], null, ("keepdims", keep ? 1 : 0));

    /// <summary>Max over <paramref name="axis"/> (dropped unless <paramref name="keep"/>).</summary>
    public string ReduceMax(string x, int axis, bool keep = false) => Node("ReduceMax", [x], null, ("axes", new long[] { axis }), ("keepdims", keep ? 1 : 0));

    /// <summary>x[..., start:end] along <paramref name="axis"/>.</summary>
    public string Slice(string x, int axis, long start, long end) => Node("Slice", [x, Ints([start]), Ints([end]), Ints([axis])]);

    /// <summary>Reshape to <paramref name="shape"/> (0 copies a dimension, −1 infers one).</summary>
    public string Reshape(string x, params long[] shape) => Node("Reshape", [x, Ints(shape)]);

    /// <summary>Inserts a unit axis at <paramref name="axis"/>.</summary>
    public string Unsqueeze(string x, int axis) => Node("Unsqueeze", [x, Ints([axis])]);

    /// <summary>Removes the unit axis <paramref name="axis"/>.</summary>
    public string Squeeze(string x, int axis) => Node("Squeeze", [x, Ints([axis])]);

    /// <summary>Elements of <paramref name="x"/> picked along <paramref name="axis"/> by int64 <paramref name="indices"/> of the same rank.</summary>
    public string GatherElements(string x, string indices, int axis) => Node("GatherElements", [x, indices], null, ("axis", axis));

    /// <summary>Inclusive cumulative sum along <paramref name="axis"/>.</summary>
    public string CumSum(string x, int axis) => Node("CumSum", [x, IntScalar(axis)]);

    /// <summary>Softmax along the last axis.</summary>
    public string Softmax(string x) => Node("Softmax", [x], null, ("axis", -1));

    /// <summary>min(max(x, lo), hi) with real scalar bounds.</summary>
    public string Clip(string x, double lo, double hi) => Node("Clip", [x, Scalar(lo), Scalar(hi)]);

    /// <summary>A tensor of <paramref name="like"/>'s shape filled with the real <paramref name="value"/>.</summary>
    public string Fill(string like, double value) => Node("Expand", [Scalar(value), Node("Shape", [like])]);

    /// <summary>log(1 + exp(v)) without overflow: max(v, 0) + log(1 + exp(−|v|)), as the library computes it.</summary>
    public string Softplus(string v) => Add(Relu(v), Log(Add(Scalar(1), Exp(Neg(Abs(v))))));

    /// <summary>log(1 + v), accurate near 0: log(u)·v/(u − 1) with u = 1 + v (v itself where u rounds to 1), as the library computes it.</summary>
    public string Log1p(string v)
    {
        var u = Add(Scalar(1), v);
        var um1 = Sub(u, Scalar(1));
        var same = Equal(um1, Scalar(0));
        return Where(same, v, Div(Mul(Log(u), v), Where(same, Scalar(1), um1)));
    }

    /// <summary>eᵛ − 1, accurate near 0 (Kahan's trick: (u − 1)·v/log u with u = eᵛ; v where u rounds to 1, −1 where it underflows).</summary>
    public string Expm1(string v)
    {
        var u = Exp(v);
        var um1 = Sub(u, Scalar(1));
        var same = Equal(um1, Scalar(0));
        var lu = Log(u);
        var safe = Where(Equal(lu, Scalar(0)), Scalar(1), lu);
        return Where(same, v, Where(Equal(u, Scalar(0)), Scalar(-1), Div(Mul(um1, v), safe)));
    }

    // ------------------------------------------------------------------ the model

    /// <summary>The ModelProto bytes of this graph, named <paramref name="name"/>, with free string metadata.</summary>
    public byte[] ToModel(string name, string docString, IReadOnlyDictionary<string, string> metadata)
    {
        var graph = GraphProto(name, docString, _store.Initializers);
        var model = new ProtoWriter()
            .Varint(1, IrVersion)
            .String(2, "NormalizingFlows")
            .String(3, typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "0")
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, Opset));
        foreach (var (k, v) in metadata) model.Message(14, new ProtoWriter().String(1, k).String(2, v));
        return model.ToArray();
    }

    // the GraphProto of this graph's nodes, inputs and outputs (a loop body's carries no initializers: they are the model's)
    private ProtoWriter GraphProto(string name, string? docString, List<ProtoWriter>? initializers = null)
    {
        var graph = new ProtoWriter();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, name);
        foreach (var t in initializers ?? []) graph.Message(5, t);
        if (docString is not null) graph.String(10, docString);
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        return graph;
    }
}
