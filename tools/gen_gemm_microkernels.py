#!/usr/bin/env python3
"""Generates src/NormalizingFlows/Tensors/Kernels/GemmMicroKernels.cs (the register-tiled GEMM micro-kernels for
AVX2/FMA, AVX-512 and portable Vector<T>, float and double). Edit the tiles here, never the .cs file:

    python3 tools/gen_gemm_microkernels.py > src/NormalizingFlows/Tensors/Kernels/GemmMicroKernels.cs

Running it unchanged reproduces the committed file byte for byte.
"""
import sys
def kernel(name, T, isa, MR, NV, U=4, direct=False):
    if isa=='avx2':
        V=f"Vector256<{T}>"; L=lambda p: f"Avx.LoadVector256({p})"; S=lambda v,p: f"Avx.Store({p}, {v});"
        B=lambda p: f"Vector256.Create({p})"; FMA=lambda a,b,c: f"Fma.MultiplyAdd({a}, {b}, {c})"
        W = 8 if T=='float' else 4; Z=f"Vector256<{T}>.Zero"; CR=f"Vector256.Create"
    elif isa=='avx512':
        V=f"Vector512<{T}>"; L=lambda p: f"Avx512F.LoadVector512({p})"; S=lambda v,p: f"Avx512F.Store({p}, {v});"
        B=lambda p: f"Vector512.Create({p})"; FMA=lambda a,b,c: f"Avx512F.FusedMultiplyAdd({a}, {b}, {c})"
        W = 16 if T=='float' else 8; Z=f"Vector512<{T}>.Zero"; CR=f"Vector512.Create"
    else:
        V=f"Vector<{T}>"; L=lambda p: f"Unsafe.ReadUnaligned<Vector<{T}>>({p})"; S=lambda v,p: f"Unsafe.WriteUnaligned({p}, {v});"
        B=lambda p: f"new Vector<{T}>({p})"; FMA=lambda a,b,c: f"{c} + {a} * {b}"
        W = f"Vector<{T}>.Count"; Z=f"Vector<{T}>.Zero"; CR=f"new Vector<{T}>"
    NR = NV*W if isinstance(W,int) else None
    out=[]
    o=out.append
    if direct:
        o(f"    /// <summary>{MR}×{NR} {T} micro-kernel ({isa}) reading A unpacked: C[0..{MR}, 0..NR) = alpha·Σ_p a[r·lda+p]·b[p·NR+j] + beta·C (beta = 0 does not read C); the same FMA sequence as the packed kernel.</summary>")
    else:
        o(f"    /// <summary>{MR}×{NR if NR else str(NV)+' vectors'} {T} micro-kernel ({isa}): C[0..{MR}, 0..NR) = alpha·Σ_p a[p·{MR}+r]·b[p·NR+j] + beta·C (beta = 0 does not read C).</summary>")
    o(f"    [MethodImpl(MethodImplOptions.AggressiveOptimization)]")
    if direct:
        o(f"    internal static void {name}(nint kc, {T}* a, nint lda, {T}* b, {T}* c, nint rsc, {T} alpha, {T} beta)")
    else:
        o(f"    internal static void {name}(nint kc, {T}* a, {T}* b, {T}* c, nint rsc, {T} alpha, {T} beta)")
    o("    {")
    if direct:
        for r in range(MR):
            o(f"        {T}* a{r} = a + {r} * lda;" if r else f"        {T}* a0 = a;")
    nrexpr = NR if NR else f"({NV} * Vector<{T}>.Count)"
    if not NR: o(f"        nint w = Vector<{T}>.Count;")
    wexpr = (lambda v: str(v*W)) if NR else (lambda v: ("0" if v==0 else (f"w" if v==1 else f"{v} * w")))
    for r in range(MR):
        o("        " + "; ".join(f"{V} c{r}{v} = {Z}" for v in range(NV)) + ";")
    def step(off):
        lines=[]
        for v in range(NV):
            bo = wexpr(v) if v>0 else "0"
            if NR:
                idx = off*NR + v*W
                lines.append(f"            {V} b{v} = {L(f'b + {idx}' if idx else 'b')};")
            else:
                lines.append(f"            {V} b{v} = {L(f'b + {off} * {nrexpr} + {bo}')};")
        for r in range(MR):
            ai = off*MR + r
            src = (f"a{r}[p + {off}]" if off else f"a{r}[p]") if direct else f"a[{ai}]"
            lines.append(f"            {{ {V} av{r} = {B(src)}; " + " ".join(f"c{r}{v} = {FMA(f'av{r}', f'b{v}', f'c{r}{v}')};" for v in range(NV)) + " }")
        return lines
    o(f"        nint p = 0;")
    o(f"        for (; p + {U} <= kc; p += {U})")
    o("        {")
    for u in range(U):
        o("            {")
        out.extend(step(u))
        o("            }")
    o(f"            b += {U} * {nrexpr};" if direct else f"            a += {U*MR}; b += {U} * {nrexpr};")
    o("        }")
    o(f"        for (; p < kc; p++)")
    o("        {")
    out.extend(step(0))
    o(f"            b += {nrexpr};" if direct else f"            a += {MR}; b += {nrexpr};")
    o("        }")
    o(f"        if (alpha != {T}.CreateTruncating(1))" if False else f"        if (alpha != 1)")
    o("        {")
    o(f"            {V} va = {CR}(alpha);")
    for r in range(MR):
        o("            " + " ".join(f"c{r}{v} *= va;" for v in range(NV)))
    o("        }")
    def st(expr):
        ls=[]
        for r in range(MR):
            row = f"c + {r} * rsc" if r>0 else "c"
            ls.append("            " + " ".join(S(expr(r,v), f"{row}{(' + ' + wexpr(v)) if v>0 else ''}") for v in range(NV)))
        return ls
    def ld(r,v):
        row = f"c + {r} * rsc" if r>0 else "c"
        return L(f"{row}{(' + ' + wexpr(v)) if v>0 else ''}")
    o("        if (beta == 0)"); o("        {")
    out.extend(st(lambda r,v: f"c{r}{v}"))
    o("        }"); o("        else if (beta == 1)"); o("        {")
    out.extend(st(lambda r,v: f"c{r}{v} + {ld(r,v)}"))
    o("        }"); o("        else"); o("        {")
    o(f"            {V} vb = {CR}(beta);")
    out.extend(st(lambda r,v: f"c{r}{v} + {ld(r,v)} * vb"))
    o("        }")
    o("    }")
    return "\n".join(out)

hdr = """// <auto-generated> by tools/gen_gemm_microkernels.py: register-tiled GEMM micro-kernels (edit the script, not this file).
// Each kernel multiplies a packed MR×kc A micro-panel (column by column, MR values per k step) by a packed kc×NR
// B micro-panel (NR values per k step) and writes the MR×NR tile; the *Direct kernels read the MR rows of a
// row-major A in place (no packing). Accumulation order is strictly sequential in k
// so results are bit-identical for any partitioning.
// </auto-generated>
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

internal static unsafe class GemmMicroKernels
{
"""
ks = [
 ("F32Avx2_6x16","float","avx2",6,2),
 ("F64Avx2_6x8","double","avx2",6,2),
 ("F32Avx512_12x32","float","avx512",12,2),
 ("F32Avx512_8x32","float","avx512",8,2),
 ("F64Avx512_12x16","double","avx512",12,2),
 ("F64Avx512_8x16","double","avx512",8,2),
 ("F32Avx512_4x32","float","avx512",4,2),
 ("F32Avx512_6x32","float","avx512",6,2),
 ("F64Avx512_6x16","double","avx512",6,2),
 ("F32Avx2_4x16","float","avx2",4,2),
 ("F64Avx512_4x16","double","avx512",4,2),
 ("F64Avx2_4x8","double","avx2",4,2),
 ("F32Portable_4x2V","float","portable",4,2),
 ("F64Portable_4x2V","double","portable",4,2),
 ("F32Avx512_12x32Direct","float","avx512",12,2,4,True),
 ("F32Avx2_6x16Direct","float","avx2",6,2,4,True),
]
print(hdr + "\n\n".join(kernel(*k) for k in ks) + "\n}")
