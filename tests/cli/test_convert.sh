#!/usr/bin/env bash
# convert between every format and dense: exact round trips (byte-identical
# tensors, dense layers still listed), the refusals (act-order into awq, a zero
# of 0 into gptq v1, a v1 zero of 16 elsewhere; into v1 it carries over), an
# AutoGPTQ-named folder, scales rounded to f16 with the change reported, and
# dense output that matches the original weights within the quantization step.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || fail "no scratch dir"
ST="$HERE/st_tool.py"

same() { python3 "$ST" same "$1/model.safetensors" "$2/model.safetensors" || fail "$1 and $2 differ"; }
format_of() {
    expect_rc 0 "$W4A16" inspect "$1" --json
    python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['format'])" "$OUT"
}

make_dense dense
make_dense dense_pos --positive-layer
expect_rc 0 "$W4A16" quantize dense --format awq -o awq

# awq -> gptq_v2 -> awq, awq -> ct -> awq, awq -> gptq -> awq: the same tensors, byte for byte.
for via in gptq_v2 ct gptq; do
    expect_rc 0 "$W4A16" convert awq --to $via -o awq_$via
    [ "$(format_of awq_$via)" = "$via" ] || fail "awq -> $via is not $via"
    expect_rc 0 "$W4A16" convert awq_$via --to awq -o awq_${via}_awq
    [ "$(format_of awq_${via}_awq)" = awq ] || fail "-> awq is not awq"
    same awq awq_${via}_awq
    # The layers left dense (lm_head) stay listed: ct ignore, gptq dynamic "-:" rules.
    python3 - awq awq_$via awq_${via}_awq <<'PY' || fail "awq -> $via -> awq lost the dense layers"
import json, sys
first, middle, back = (json.load(open(d + "/config.json"))["quantization_config"] for d in sys.argv[1:])
assert first["modules_to_not_convert"] == ["lm_head"], first
assert back["modules_to_not_convert"] == first["modules_to_not_convert"], back
assert middle.get("ignore", ["lm_head"]) == ["lm_head"], middle
assert list(middle.get("dynamic", {"-:lm_head$": {}})) == ["-:lm_head$"], middle
PY
    expect_rc 0 "$W4A16" inspect awq_$via --json
    python3 -c "import json, sys; j = json.load(open(sys.argv[1])); \
        assert {'name': 'lm_head', 'status': 'unquantized'}.items() <= \
            next(l for l in j['layers'] if l['name'] == 'lm_head').items(), j" "$OUT" ||
        fail "lm_head is not an unquantized layer of awq_$via"
done
# With --from naming the format of a bare file (no config beside it).
mkdir bare && cp awq_gptq_v2/model.safetensors bare/
expect_rc 1 "$W4A16" convert bare/model.safetensors --to awq -o bare_awq
expect_one_line_error
expect_rc 0 "$W4A16" convert bare/model.safetensors --from gptq_v2 --to awq -o bare_awq
same awq bare_awq

# Symmetric gptq (v1) -> ct -> gptq_v2 -> gptq.
expect_rc 0 "$W4A16" quantize dense --format gptq -o gptq
expect_rc 0 "$W4A16" convert gptq --to ct -o gptq_ct
expect_rc 0 "$W4A16" convert gptq_ct --to gptq_v2 -o gptq_ct_v2
expect_rc 0 "$W4A16" convert gptq_ct_v2 --to gptq -o gptq_back
same gptq gptq_back

# AutoGPTQ's folder: gptq_model-4bit-128g.safetensors, named by quantize_config.json's
# model_file_base_name, and config.json without quantization_config.
mkdir autogptq
cp gptq/model.safetensors autogptq/gptq_model-4bit-128g.safetensors
cp gptq/model.safetensors autogptq/adapter_model.safetensors
python3 - <<'PY' || fail "could not write autogptq's configs"
import json
c = json.load(open("gptq/config.json"))
q = c.pop("quantization_config")
q["model_file_base_name"] = "gptq_model-4bit-128g"
json.dump(c, open("autogptq/config.json", "w"))
json.dump(q, open("autogptq/quantize_config.json", "w"))
PY
expect_rc 0 "$W4A16" inspect autogptq
expect_rc 0 "$W4A16" convert autogptq --to gptq -o autogptq_back
same gptq autogptq_back
# Without the name, two files and no rule to choose between them; then the only one.
python3 -c "import json; p = 'autogptq/quantize_config.json'; q = json.load(open(p)); \
    del q['model_file_base_name']; json.dump(q, open(p, 'w'))"
expect_rc 1 "$W4A16" inspect autogptq
expect_one_line_error
expect_stderr_has "adapter_model.safetensors, gptq_model-4bit-128g.safetensors"
rm autogptq/adapter_model.safetensors
[ "$(format_of autogptq)" = gptq ] || fail "autogptq's only file is not read as gptq"

# A zero of 0 cannot go into GPTQ v1; gptq_v2 and ct hold it.
expect_rc 0 "$W4A16" quantize dense_pos --format awq -o awq_pos
expect_rc 1 "$W4A16" convert awq_pos --to gptq -o awq_pos_gptq
expect_one_line_error
expect_stderr_has "positive_proj"
[ -e awq_pos_gptq ] && fail "a failed convert left its output folder"
expect_rc 0 "$W4A16" convert awq_pos --to gptq_v2 -o awq_pos_v2
expect_rc 0 "$W4A16" quantize dense_pos --format gptq --asym -o gptq_pos
expect_rc 0 "$W4A16" inspect gptq_pos --json

# A GPTQ v1 zero of 16 (stored 15) fits no other format; dense takes it.
cp -r gptq_pos gptq_z16
python3 "$ST" set-int32 gptq_z16/model.safetensors model.layers.0.mlp.up_proj.qzeros -1
for to in gptq_v2 awq ct; do
    expect_rc 1 "$W4A16" convert gptq_z16 --to $to -o z16_$to
    expect_one_line_error
    expect_stderr_has "up_proj"
done
expect_rc 0 "$W4A16" convert gptq_z16 --to dense -o z16_dense
# Back into gptq (v1) the stored 15 stays 15: every tensor byte-identical.
expect_rc 0 "$W4A16" convert gptq_z16 --to gptq -o z16_gptq
same gptq_z16 z16_gptq

# Act-order: a non-trivial g_idx refuses awq and carries into gptq_v2 and ct.
cp -r gptq_pos gptq_act
python3 "$ST" act-order gptq_act
expect_rc 0 "$W4A16" inspect gptq_act --json
python3 -c "import json, sys; j = json.load(open(sys.argv[1])); \
    assert all(l['act_order'] for l in j['layers'] if l['status'] == 'quantized'), j" "$OUT" ||
    fail "act-order not reported"
expect_rc 1 "$W4A16" convert gptq_act --to awq -o act_awq
expect_one_line_error
expect_stderr_has "act-order"
expect_rc 0 "$W4A16" convert gptq_act --to ct -o act_ct
expect_rc 0 "$W4A16" inspect act_ct --json
python3 -c "import json, sys; j = json.load(open(sys.argv[1])); \
    assert j['format'] == 'ct' and all(l['act_order'] for l in j['layers'] if l['status'] == 'quantized'), j" \
    "$OUT" || fail "act-order lost in ct"
expect_rc 0 "$W4A16" convert act_ct --to gptq_v2 -o act_ct_v2
expect_rc 0 "$W4A16" convert gptq_act --to gptq_v2 -o act_v2
same act_v2 act_ct_v2
expect_rc 0 "$W4A16" convert gptq_act --to dense -o act_dense
expect_rc 0 "$W4A16" convert act_ct --to dense -o act_ct_dense
same act_dense act_ct_dense

# Dense: (q - z) * s rounded once; within half a step of the original weights;
# the other tensors copied unchanged; quantization_config removed.
expect_rc 0 "$W4A16" convert awq --to dense -o awq_dense
[ "$(format_of awq_dense)" = dense ] || fail "dense output is not dense"
read -r WORST LARGEST COUNT < <(python3 "$ST" dequant-error dense/model.safetensors awq_dense/model.safetensors)
python3 -c "import sys; w, l, c = map(float, sys.argv[1:]); \
    assert c == 7 and l > 0.1 and 0 < w < 0.02, (w, l, c)" "$WORST" "$LARGEST" "$COUNT" ||
    fail "dequantized weights: max error $WORST, largest $LARGEST, $COUNT layers"
python3 "$ST" same-tensors dense/model.safetensors awq_dense/model.safetensors \
    model.embed_tokens.weight lm_head.weight model.norm.weight \
    model.layers.0.self_attn.q_proj.bias model.layers.0.input_layernorm.weight ||
    fail "dense convert changed a tensor it should copy"
python3 -c "import json; c = json.load(open('awq_dense/config.json')); \
    assert 'quantization_config' not in c and c['hidden_size'] == 256, c" || fail "dense config"
expect_rc 0 "$W4A16" convert awq_ct --to dense -o awq_ct_dense
same awq_dense awq_ct_dense
for dtype in f32 bf16; do
    expect_rc 0 "$W4A16" convert awq --to dense --dtype $dtype -o dense_$dtype
    python3 -c "import json, sys; h = json.loads(sys.stdin.read()); \
        assert h['model.layers.0.mlp.up_proj.weight'] == {'dtype': sys.argv[1], 'shape': [384, 256]}, h" \
        "$(echo $dtype | tr a-z A-Z)" < <(python3 "$ST" header dense_$dtype/model.safetensors) ||
        fail "--dtype $dtype"
done

# BF16 weights -> ct keeps bf16 scales; into awq they become f16 (exactly, as bf16
# values in f16's range are) and stderr says so. F32 scales are rounded, and the
# largest relative change is reported.
make_dense dense_bf16 --dtype BF16
expect_rc 0 "$W4A16" quantize dense_bf16 --format ct -o ct_bf16
python3 -c "import json, sys; h = json.loads(sys.stdin.read()); \
    assert h['model.layers.0.mlp.up_proj.weight_scale']['dtype'] == 'BF16', h" \
    < <(python3 "$ST" header ct_bf16/model.safetensors) || fail "ct scales from bf16 weights"
expect_rc 0 "$W4A16" convert ct_bf16 --to awq -o ct_bf16_awq
expect_stderr_has "BF16 scales rounded to F16 for awq: largest relative change 0 "
expect_rc 0 "$W4A16" quantize dense --format ct -o ct_f32
python3 "$ST" f32-scales ct_f32/model.safetensors
expect_rc 0 "$W4A16" convert ct_f32 --to gptq -o ct_f32_gptq
expect_stderr_has "F32 scales rounded to F16 for gptq: largest relative change [0-9.e-]* (in model"
grep -q "change 0 " "$ERR" && fail "rounding F32 scales changed none: $(cat "$ERR")"
expect_rc 0 "$W4A16" convert ct_bf16 --to gptq_v2 -o ct_bf16_v2
expect_rc 0 "$W4A16" convert ct_bf16_v2 --to ct -o ct_bf16_v2_ct
python3 -c "import json, sys; h = json.loads(sys.stdin.read()); \
    assert h['model.layers.0.mlp.up_proj.weight_scale']['dtype'] == 'F16', h" \
    < <(python3 "$ST" header ct_bf16_v2_ct/model.safetensors) || fail "ct from gptq scales"

# A layer no config group targets is listed as unsupported (valid, out of scope), with
# the reason; inspect still succeeds, convert refuses naming it. When no layer is
# readable, inspect fails.
expect_rc 0 "$W4A16" quantize dense --format ct -o ct_partial
python3 - <<'PY' || fail "could not edit ct_partial/config.json"
import json
c = json.load(open("ct_partial/config.json"))
c["quantization_config"]["config_groups"]["group_0"]["targets"] = ["re:.*mlp.*"]
json.dump(c, open("ct_partial/config.json", "w"))
PY
expect_rc 0 "$W4A16" inspect ct_partial --json
python3 - "$OUT" <<'PY' || fail "unsupported layers in inspect"
import json, sys
j = json.load(open(sys.argv[1]))
status = {l["name"]: (l["status"], l["reason"]) for l in j["layers"]}
assert status["model.layers.0.mlp.up_proj"] == ("quantized", ""), status
s, reason = status["model.layers.0.self_attn.q_proj"]
assert s == "unsupported" and reason, status
names = [t["name"] for t in j["other_tensors"]]
assert "model.layers.0.self_attn.q_proj.weight_packed" in names, names
PY
expect_rc 1 "$W4A16" convert ct_partial --to dense -o partial_dense
expect_one_line_error
expect_stderr_has "self_attn"
# A malformed layer (its qzeros gone): inspect still lists every layer, gives it
# status "malformed" and the reason, and exits 1 naming it; convert refuses.
cp -r awq awq_malformed
python3 "$ST" drop awq_malformed/model.safetensors model.layers.0.mlp.up_proj.qzeros
expect_rc 1 "$W4A16" inspect awq_malformed
expect_one_line_error
expect_stderr_has "1 malformed layer; the first, model.layers.0.mlp.up_proj: model.layers.0.mlp.up_proj.qzeros: missing"
grep -q "model.layers.0.mlp.up_proj .*malformed: .*qzeros: missing" "$OUT" || fail "inspect text: $(cat "$OUT")"
grep -q "model.layers.0.mlp.down_proj .*N=256" "$OUT" || fail "inspect text lacks the good layers"
expect_rc 1 "$W4A16" inspect awq_malformed --json
expect_one_line_error
python3 - "$OUT" <<'PY' || fail "inspect --json of a malformed layer"
import json, sys
j = json.load(open(sys.argv[1]))
layers = {l["name"]: l for l in j["layers"]}
bad = layers["model.layers.0.mlp.up_proj"]
assert bad["status"] == "malformed" and "qzeros: missing" in bad["reason"], bad
assert layers["model.layers.0.mlp.gate_proj"]["status"] == "quantized", layers
assert layers["lm_head"]["status"] == "unquantized", layers
PY
expect_rc 1 "$W4A16" convert awq_malformed --to gptq_v2 -o malformed_v2
expect_one_line_error
expect_stderr_has "layer 'model.layers.0.mlp.up_proj' is malformed"

python3 - <<'PY' || fail "could not edit ct_partial/config.json"
import json
c = json.load(open("ct_partial/config.json"))
c["quantization_config"]["config_groups"]["group_0"]["targets"] = ["re:nothing"]
json.dump(c, open("ct_partial/config.json", "w"))
PY
expect_rc 1 "$W4A16" inspect ct_partial --json
expect_one_line_error

echo "ok"
