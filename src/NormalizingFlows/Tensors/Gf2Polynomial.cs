namespace NormalizingFlows.Tensors;

/// <summary>
/// A polynomial over GF(2) of degree below 256 (bit i of the four words is the coefficient of x^i), with products
/// taken modulo the characteristic polynomial of xoshiro256's state transition. A state advanced by p(T) for
/// p = x^n mod P is the state after n draws (<see cref="Rng.Skip"/>); x^(2^128) mod P is the reference jump polynomial.
/// </summary>
internal readonly struct Gf2Polynomial
{
    private readonly ulong _w0, _w1, _w2, _w3;

    public Gf2Polynomial(ulong w0, ulong w1, ulong w2, ulong w3) => (_w0, _w1, _w2, _w3) = (w0, w1, w2, w3);

    /// <summary>Word <paramref name="i"/> (0 … 3) of the coefficients.</summary>
    public ulong this[int i] => i switch { 0 => _w0, 1 => _w1, 2 => _w2, _ => _w3 };

    /// <summary>P(x) = x^256 + these terms: xoshiro256's characteristic polynomial (Berlekamp–Massey on its output bits).</summary>
    private static readonly Gf2Polynomial Characteristic = new(0x9D116F2BB0F0F001UL, 0x0280002BCEFD1A5EUL, 0x04B4EDCF26259F85UL, 0x0003C03C3F3ECB19UL);

    /// <summary>x^(2^k) mod P for k = 0 … 63.</summary>
    private static readonly Gf2Polynomial[] XToPowersOfTwo = CreatePowersOfTwo();

    private static Gf2Polynomial[] CreatePowersOfTwo()
    {
        var t = new Gf2Polynomial[64];
        t[0] = new Gf2Polynomial(2, 0, 0, 0);
        for (int k = 1; k < t.Length; k++) t[k] = MultiplyMod(t[k - 1], t[k - 1]);
        return t;
    }

    /// <summary>x^<paramref name="n"/> mod P.</summary>
    public static Gf2Polynomial PowerOfX(ulong n)
    {
        var r = new Gf2Polynomial(1, 0, 0, 0);
        for (int k = 0; n != 0; k++, n >>= 1)
            if ((n & 1) != 0) r = MultiplyMod(r, XToPowersOfTwo[k]);
        return r;
    }

    /// <summary>a·b mod P (Horner over b's bits, highest first).</summary>
    public static Gf2Polynomial MultiplyMod(in Gf2Polynomial a, in Gf2Polynomial b)
    {
        ulong r0 = 0, r1 = 0, r2 = 0, r3 = 0;
        var p = Characteristic;
        for (int i = 255; i >= 0; i--)
        {
            ulong carry = r3 >> 63; // r·x overflows into x^256 = the lower terms of P
            r3 = (r3 << 1) | (r2 >> 63);
            r2 = (r2 << 1) | (r1 >> 63);
            r1 = (r1 << 1) | (r0 >> 63);
            r0 <<= 1;
            ulong reduce = 0UL - carry;
            r0 ^= p._w0 & reduce; r1 ^= p._w1 & reduce; r2 ^= p._w2 & reduce; r3 ^= p._w3 & reduce;
            ulong take = 0UL - ((b[i >> 6] >> (i & 63)) & 1);
            r0 ^= a._w0 & take; r1 ^= a._w1 & take; r2 ^= a._w2 & take; r3 ^= a._w3 & take;
        }
        return new Gf2Polynomial(r0, r1, r2, r3);
    }
}
