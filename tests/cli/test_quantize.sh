#!/usr/bin/env bash
# quantize -> inspect --json: the fields and values of every layer, the other
# tensors, the byte count, the config written; defaults per format; --group,
# --sym/--asym, --include/--exclude.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || fail "no scratch dir"

make_dense dense
expect_rc 0 "$W4A16" inspect dense --json
python3 -c "import json, sys; j = json.load(open(sys.argv[1])); \
    assert j['format'] == 'dense' and j['layers'] == [] and j['tensor_count'] == 13, j" "$OUT" ||
    fail "inspect of a dense checkpoint"
expect_rc 0 "$W4A16" quantize dense --format awq -o awq
expect_rc 0 "$W4A16" inspect awq --json
cp "$OUT" awq.json

# check_inspect JSON DIR FORMAT GROUP sym|asym: every linear layer but lm_head
# quantized, the other tensors listed, tensor count and bytes those of DIR.
check_inspect() {
    python3 - "$HERE" "$@" <<'PY' || fail "inspect --json of $2 is wrong"
import json, sys
sys.path.insert(0, sys.argv[1])
import st_tool
path, folder, fmt, group, sym = sys.argv[2:]
tensors = st_tool.read(folder + "/model.safetensors")
j = json.load(open(path))
assert j["format"] == fmt, j["format"]
p = "model.layers.0."
shapes = {p + "self_attn.q_proj": (256, 256), p + "self_attn.k_proj": (64, 256),
          p + "self_attn.v_proj": (64, 256), p + "self_attn.o_proj": (256, 256),
          p + "mlp.gate_proj": (384, 256), p + "mlp.up_proj": (384, 256),
          p + "mlp.down_proj": (256, 384)}
quantized = {l["name"]: l for l in j["layers"] if l["status"] == "quantized"}
assert set(quantized) == set(shapes), sorted(quantized)
for name, (n, k) in shapes.items():
    l = quantized[name]
    assert (l["n"], l["k"]) == (n, k), l
    assert l["group_size"] == int(group), l
    assert l["symmetric"] is (sym == "sym"), l
    assert l["act_order"] is False and l["reason"] == "", l
assert set(l.keys()) == {"name", "status", "reason", "n", "k", "group_size", "symmetric",
                         "act_order"}, l.keys()
others = {t["name"]: t for t in j["other_tensors"]}
for name in ["model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
             p + "self_attn.q_proj.bias", p + "input_layernorm.weight"]:
    assert name in others, name
assert others["lm_head.weight"] == {"name": "lm_head.weight", "dtype": "F16",
                                    "shape": [64, 256]}, others["lm_head.weight"]
assert not any(t["name"].startswith(p + "mlp.up_proj") for t in j["other_tensors"])
assert j["tensor_count"] == len(tensors), (j["tensor_count"], len(tensors))
assert j["bytes"] == sum(len(t[2]) for t in tensors.values()), j["bytes"]
PY
}
check_inspect awq.json awq awq 128 asym

# The config: the input's, plus quantization_config; lm_head listed as left dense.
python3 - <<'PY' || fail "awq/config.json is wrong"
import json
c = json.load(open("awq/config.json"))
assert c["hidden_size"] == 256 and c["model_type"] == "qwen2", c
q = c["quantization_config"]
assert q["quant_method"] == "awq" and q["bits"] == 4 and q["group_size"] == 128, q
assert q["zero_point"] is True and q["version"] == "gemm", q
assert "lm_head" in q["modules_to_not_convert"], q
PY

# The text form names the format and the layers.
expect_rc 0 "$W4A16" inspect awq
grep -q "format: awq" "$OUT" || fail "inspect text lacks the format"
grep -q "model.layers.0.mlp.down_proj .*N=256 .*K=384" "$OUT" || fail "inspect text lacks down_proj"

# Defaults: gptq, gptq_v2 and ct are symmetric; --asym, --sym and --group override.
for fmt in gptq gptq_v2 ct; do
    expect_rc 0 "$W4A16" quantize dense --format $fmt -o $fmt
    expect_rc 0 "$W4A16" inspect $fmt --json
    cp "$OUT" $fmt.json
    check_inspect $fmt.json $fmt $fmt 128 sym
done
python3 -c "import json; q = json.load(open('gptq/config.json'))['quantization_config']; \
    assert q['quant_method'] == 'gptq' and q['sym'] is True and q['desc_act'] is False, q" ||
    fail "gptq config"
python3 -c "import json; q = json.load(open('ct/config.json'))['quantization_config']; \
    assert q['quant_method'] == 'compressed-tensors' and q['format'] == 'pack-quantized', q" ||
    fail "ct config"

expect_rc 0 "$W4A16" quantize dense --format ct --asym --group 32 -o ct_asym32
expect_rc 0 "$W4A16" inspect ct_asym32 --json
check_inspect "$OUT" ct_asym32 ct 32 asym
expect_rc 0 "$W4A16" quantize dense --format awq --sym --group -1 -o awq_channel
expect_rc 0 "$W4A16" inspect awq_channel --json
check_inspect "$OUT" awq_channel awq -1 sym
expect_rc 0 "$W4A16" quantize dense --format gptq --group=64 --asym -o gptq64
expect_rc 0 "$W4A16" inspect gptq64 --json
check_inspect "$OUT" gptq64 gptq 64 asym

# A bare .safetensors with no config is taken as dense; the output gets a minimal config.
mkdir bare && cp dense/model.safetensors bare/
expect_rc 0 "$W4A16" quantize bare/model.safetensors --format awq -o from_bare
python3 -c "import json; c = json.load(open('from_bare/config.json')); \
    assert c['quantization_config']['quant_method'] == 'awq', c" || fail "minimal config"

# A quantized input is refused.
expect_rc 1 "$W4A16" quantize awq --format gptq -o requantized
expect_one_line_error

# --exclude leaves a layer dense (by prefix or tensor name); --include restricts and
# may name lm_head.
expect_rc 0 "$W4A16" quantize dense --format awq --exclude '*.down_proj' \
    --exclude 'model.layers.0.self_attn.q_proj.weight' -o excluded
expect_rc 0 "$W4A16" inspect excluded --json
python3 - "$OUT" <<'PY' || fail "--exclude"
import json, sys
j = json.load(open(sys.argv[1]))
status = {l["name"]: l["status"] for l in j["layers"]}
assert status["model.layers.0.mlp.down_proj"] == "unquantized", status
assert status["model.layers.0.self_attn.q_proj"] == "unquantized", status
assert status["model.layers.0.mlp.up_proj"] == "quantized", status
PY
expect_rc 0 "$W4A16" quantize dense --format ct --include 'lm_head.weight' --include '*.up_proj' \
    -o included
expect_rc 0 "$W4A16" inspect included --json
python3 - "$OUT" <<'PY' || fail "--include"
import json, sys
j = json.load(open(sys.argv[1]))
quantized = sorted(l["name"] for l in j["layers"] if l["status"] == "quantized")
assert quantized == ["lm_head", "model.layers.0.mlp.up_proj"], quantized
assert "model.embed_tokens.weight" in [t["name"] for t in j["other_tensors"]]
PY

echo "ok"
