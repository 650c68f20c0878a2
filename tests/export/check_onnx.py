"""Validate exported ONNX models with the reference checker (tests/test_export.c).

usage: check_onnx.py MODEL.onnx...   prints one "ok PATH" line per model; exit 1 on the first failure.
Checks: onnx.checker with full_check (type and shape inference), IR version 7 / opset 13, a
symbolic batch dimension on the input, and the normalisation stated in the metadata (one
mean and one std per input channel).
"""
import sys

import onnx


def main(paths):
    for path in paths:
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        assert m.ir_version == 7, f"{path}: ir_version {m.ir_version}"
        assert [(o.domain, o.version) for o in m.opset_import] == [("", 13)], m.opset_import
        dims = m.graph.input[0].type.tensor_type.shape.dim
        assert len(dims) == 4 and dims[0].dim_param == "N", f"{path}: input dims {dims}"
        meta = {p.key: p.value for p in m.metadata_props}
        for key in ("enevo.input_mean", "enevo.input_std", "enevo.normalisation"):
            assert key in meta, f"{path}: metadata {key} missing"
        for key in ("enevo.input_mean", "enevo.input_std"):  # one float per input channel
            vals = [float(v) for v in meta[key].split(",")]
            c = dims[1].dim_value
            assert len(vals) == c, f"{path}: {key} {meta[key]!r} for {c} channels"
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        out = inferred.graph.output[0].type.tensor_type.shape.dim
        assert len(out) == 2 and out[0].dim_param == "N", f"{path}: output dims {out}"
        print("ok", path)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as e:  # one line the C test can show
        print("FAIL", type(e).__name__, str(e).replace("\n", " ")[:800])
        sys.exit(1)
