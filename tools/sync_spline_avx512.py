#!/usr/bin/env python3
"""Regenerates the marked section of RationalQuadraticSpline.Float512.cs from RationalQuadraticSpline.Float.cs.

The AVX-512 spline kernels repeat the AVX2 ones with Vector512 in place of Vector256. Edit the section between
the `// <generic>` and `// </generic>` markers in Float.cs only, then run this script from the repository root:

    python3 tools/sync_spline_avx512.py

SplineFloatPathTests fails if the two sections drift apart.
"""
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent / "src/NormalizingFlows/Transforms/Splines"
src = (root / "RationalQuadraticSpline.Float.cs").read_text()
dst_path = root / "RationalQuadraticSpline.Float512.cs"
dst = dst_path.read_text()

OPEN, CLOSE = "        // <generic>", "        // </generic>"
section = src[src.index(OPEN):src.index(CLOSE)].replace("Vector256", "Vector512")
section = section.replace(
    "        // <generic> (RationalQuadraticSpline.Float512.cs repeats this section with Vector512)",
    "        // <generic> generated from RationalQuadraticSpline.Float.cs: the section between the markers with Vector256 → Vector512")
new = dst[:dst.index(OPEN)] + section + dst[dst.index(CLOSE):]
if new != dst:
    dst_path.write_text(new)
    print(f"updated {dst_path}")
else:
    print("already in sync")
