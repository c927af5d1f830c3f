#!/usr/bin/env bash
# What quantize and convert write: shards no larger than --max-shard-size with
# Hugging Face's names and index, read back exactly; the same bytes for any
# --threads; --force replacing the previous checkpoint's weight files and
# nothing else; an OUT_DIR that is the input's folder or inside it refused;
# the model folder's other files carried; config.json's dtype; MoE routers
# left dense and listed; a tensor passed through in pieces without holding it
# resident; nothing left behind by a failure.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || fail "no scratch dir"
ST="$HERE/st_tool.py"
same() { python3 "$ST" same "$1" "$2" || fail "$1 and $2 differ"; }
files() { (cd "$1" && ls | tr '\n' ' '); }

# A model folder: weights, config, tokenizer and generation files, a README, a
# chat template, a subfolder, a hidden file, and weights of other kinds.
make_dense model --moe-router
echo '{"version": "1.0"}' >model/tokenizer.json
echo '{"eos_token_id": 2}' >model/generation_config.json
echo '{% for m in messages %}{{ m }}{% endfor %}' >model/chat_template.jinja
echo '# A model' >model/README.md
mkdir model/original && echo x >model/original/params.json
echo x >model/.gitattributes
echo x >model/pytorch_model.bin

# Sharded: every tensor in one shard or another, none larger than the limit
# unless alone; the index names them; the whole reads back as the 1-file form.
expect_rc 0 "$W4A16" quantize model --format gptq --max-shard-size 300KB -o sharded
grep -q "wrote sharded (3 weight files, config.json, 4 other files)" "$OUT" || fail "quantize: $(cat "$OUT")"
[ "$(files sharded)" = "README.md chat_template.jinja config.json generation_config.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json tokenizer.json " ] ||
    fail "sharded holds: $(files sharded)"
cmp -s model/tokenizer.json sharded/tokenizer.json || fail "tokenizer.json not carried unchanged"
python3 - "$HERE" <<'PY' || fail "the shards or the index are wrong"
import json, sys
sys.path.insert(0, sys.argv[1])
import st_tool
index = json.load(open("sharded/model.safetensors.index.json"))
shards = {}
for name, shard in index["weight_map"].items():
    shards.setdefault(shard, []).append(name)
total = 0
for shard, names in shards.items():
    tensors = st_tool.read("sharded/" + shard)
    assert sorted(tensors) == sorted(names), shard
    size = sum(len(t[2]) for t in tensors.values())
    assert size <= 300000 or len(tensors) == 1, (shard, size)
    total += size
assert index["metadata"]["total_size"] == total, index["metadata"]
PY
expect_rc 0 "$W4A16" quantize model --format gptq -o single
[ -e single/model.safetensors ] && [ ! -e single/model.safetensors.index.json ] || fail "single: $(files single)"
same sharded single
expect_rc 0 "$W4A16" inspect sharded --json
python3 -c "import json, sys; j = json.load(open(sys.argv[1])); \
    assert j['format'] == 'gptq' and sum(l['status'] == 'quantized' for l in j['layers']) == 7, j" "$OUT" ||
    fail "inspect of the sharded checkpoint"
expect_rc 2 "$W4A16" quantize model --format gptq --max-shard-size 5TB -o bad
expect_rc 2 "$W4A16" convert single --to awq --threads 0 -o bad

# The same bytes for 1 thread and more threads than rows to share.
expect_rc 0 "$W4A16" quantize model --format awq --threads 1 -o awq1
expect_rc 0 "$W4A16" quantize model --format awq --threads 5 -o awq5
cmp -s awq1/model.safetensors awq5/model.safetensors || fail "quantize differs with 5 threads"
expect_rc 0 "$W4A16" convert awq1 --to gptq_v2 --threads 1 -o v2_1
expect_rc 0 "$W4A16" convert awq1 --to gptq_v2 --threads 3 -o v2_3
cmp -s v2_1/model.safetensors v2_3/model.safetensors || fail "convert differs with 3 threads"
expect_rc 0 "$W4A16" convert awq1 --to dense --threads 1 -o dense1
expect_rc 0 "$W4A16" convert awq1 --to dense --threads 4 -o dense4
cmp -s dense1/model.safetensors dense4/model.safetensors || fail "dense convert differs with 4 threads"

# Routers left dense by default and listed, in the config's list too; --include
# quantizes them where the format can hold them (ct: K a multiple of 8).
expect_rc 0 "$W4A16" quantize model --format awq -o routers
grep -q "left dense: model.layers.0.mlp.gate: an MoE router" "$OUT" || fail "routers not listed: $(cat "$OUT")"
grep -q "left dense: model.layers.0.mlp.shared_expert_gate: an MoE router" "$OUT" || fail "shared_expert_gate not listed"
# AWQ readers match modules_to_not_convert as substrings: "...mlp.gate" would
# skip "...mlp.gate_proj" too, so it is left out (the router keeps its plain
# weight); ct and gptq list it.
python3 -c "import json; q = json.load(open('routers/config.json'))['quantization_config']; \
    assert sorted(q['modules_to_not_convert']) == ['lm_head', 'model.layers.0.mlp.shared_expert_gate'], q" ||
    fail "modules_to_not_convert of the routers"
expect_rc 0 "$W4A16" inspect routers --json
python3 -c "import json, sys; s = {l['name']: l['status'] for l in json.load(open(sys.argv[1]))['layers']}; \
    assert s['model.layers.0.mlp.gate_proj'] == 'quantized' and 'model.layers.0.mlp.gate' not in s, s" "$OUT" ||
    fail "gate_proj must stay quantized beside a dense router"
expect_rc 0 "$W4A16" quantize model --format ct -o ct_default
python3 -c "import json; q = json.load(open('ct_default/config.json'))['quantization_config']; \
    assert {'model.layers.0.mlp.gate', 'model.layers.0.mlp.shared_expert_gate'} <= set(q['ignore']), q" ||
    fail "routers not in ct's ignore"
expect_rc 0 "$W4A16" quantize model --format ct --include '*proj' --include '*gate' -o ct_routers
expect_rc 0 "$W4A16" inspect ct_routers --json
python3 -c "import json, sys; s = {l['name']: l['status'] for l in json.load(open(sys.argv[1]))['layers']}; \
    assert s['model.layers.0.mlp.shared_expert_gate'] == 'quantized', s" "$OUT" || fail "--include of a router"

# config.json states the dtype written.
for dtype in bf16 f32 f16; do
    expect_rc 0 "$W4A16" convert awq1 --to dense --dtype $dtype -o dense_$dtype
    python3 -c "import json, sys; c = json.load(open(sys.argv[1] + '/config.json')); \
        assert c['torch_dtype'] == sys.argv[2] and 'quantization_config' not in c, c" \
        dense_$dtype "$(case $dtype in bf16) echo bfloat16;; f32) echo float32;; *) echo float16;; esac)" ||
        fail "torch_dtype for --dtype $dtype"
done
python3 -c "import json; p = 'awq1/config.json'; c = json.load(open(p)); c['dtype'] = 'float16'; json.dump(c, open(p, 'w'))"
expect_rc 0 "$W4A16" convert awq1 --to dense --dtype bf16 -o dense_both
python3 -c "import json; c = json.load(open('dense_both/config.json')); \
    assert c['torch_dtype'] == c['dtype'] == 'bfloat16', c" || fail "dtype and torch_dtype"

# --force: the previous checkpoint's weight files that the new one does not use
# go (sharded -> one file, then one file -> shards); every other file stays.
cp -r sharded forced && echo notes >forced/notes.txt && echo x >forced/model-00009-of-00009.safetensors.tmp
expect_rc 0 "$W4A16" quantize model --format gptq -o forced --force
[ "$(files forced)" = "README.md chat_template.jinja config.json generation_config.json model-00009-of-00009.safetensors.tmp model.safetensors notes.txt tokenizer.json " ] ||
    fail "after --force (shards -> one file): $(files forced)"
same forced single
expect_rc 0 "$W4A16" quantize model --format gptq --max-shard-size 300KB -o forced --force
[ "$(files forced)" = "README.md chat_template.jinja config.json generation_config.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors model-00009-of-00009.safetensors.tmp model.safetensors.index.json notes.txt tokenizer.json " ] ||
    fail "after --force (one file -> shards): $(files forced)"
same forced single

# OUT_DIR that would replace the input, or sit inside it: refused, even with --force.
for out in model model/ model/sub ./model/../model "$SCRATCH/model/original"; do
    expect_rc 1 "$W4A16" quantize model --format awq -o "$out" --force
    expect_one_line_error
    expect_stderr_has "input's folder"
done
expect_rc 1 "$W4A16" convert sharded/model.safetensors.index.json --to awq -o sharded/awq --force
expect_one_line_error
expect_rc 1 "$W4A16" convert single/model.safetensors --to awq -o single --force
expect_one_line_error
[ -e model/sub ] && fail "a refused output was created"
# Beside a bare file (no model folder around it) is fine, and carries no files.
mkdir bare && cp single/model.safetensors bare/
expect_rc 0 "$W4A16" convert bare/model.safetensors --from gptq --to awq -o bare/awq
[ "$(files bare/awq)" = "config.json model.safetensors " ] || fail "bare/awq holds: $(files bare/awq)"

# A failure mid-way (a zero of 0 cannot go into gptq v1) leaves nothing: no
# .tmp shards, and no OUT_DIR it created; in an existing folder, nothing new.
make_dense positive --positive-layer
expect_rc 0 "$W4A16" quantize positive --format awq --max-shard-size 100KB -o positive_awq
for threads in 1 3; do # written in place, and by the writing thread
    expect_rc 1 "$W4A16" convert positive_awq --to gptq --max-shard-size 100KB --threads $threads -o failed
    expect_one_line_error
    expect_stderr_has "positive_proj"
    [ -e failed ] && fail "a failed convert left its output folder: $(files failed)"
done
mkdir kept && echo notes >kept/notes.txt
expect_rc 1 "$W4A16" convert positive_awq --to gptq -o kept --force
[ "$(files kept)" = "notes.txt " ] || fail "a failed convert left files: $(files kept)"

# A 300 MB tensor passed through unchanged is copied in pieces whose pages are
# given back: peak memory stays far below it.
make_dense large --vocab 300000
python3 - "$W4A16" <<'PY' || fail "peak memory of quantize with a 300 MB embedding"
import resource, subprocess, sys
subprocess.run([sys.argv[1], "quantize", "large", "--format", "awq", "--threads", "2", "-o", "large_awq"],
               check=True, stdout=subprocess.DEVNULL)
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
assert peak_mb < 200, "peak RSS %.0f MB for a checkpoint of two 154 MB tensors" % peak_mb
PY
python3 "$ST" same-tensors large/model.safetensors large_awq/model.safetensors \
    model.embed_tokens.weight lm_head.weight || fail "the large tensors were not copied unchanged"

echo "ok"
