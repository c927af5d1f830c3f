#!/usr/bin/env bash
# The producers' checkpoints (tests/fixtures/producers: AutoAWQ, AutoGPTQ,
# GPTQModel, compressed-tensors) through the program. inspect lists each
# layer as its producer wrote it. convert to dense and to every format either
# works, and what it wrote reads back as that format and dequantizes to the
# same weights, or fails (exit 1, one line) for the reasons a format cannot hold
# the weight: act-order in AWQ, and GPTQ v1's zero of 16 outside GPTQ v1.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"
FIXTURES="$HERE/../fixtures/producers"

# Each line of the manifest: FIXTURE TARGET EXACT (1: every scale kept exactly).
manifest="$SCRATCH/manifest"
: >"$manifest"
for dir in "$FIXTURES"/*/; do
    name=$(basename "$dir")
    expect_rc 0 "$W4A16" inspect "$dir"
    grep -q "^format: " "$OUT" || fail "inspect $name: no format line"
    grep -q "^  model.layers.0.self_attn.q_proj  *N=64  *K=256 " "$OUT" || fail "inspect $name: no q_proj line"
    expect_rc 0 "$W4A16" inspect "$dir" --json
    cp "$OUT" "$SCRATCH/$name.json"
    expect_rc 0 "$W4A16" convert "$dir" --to dense --dtype f32 -o "$SCRATCH/$name.dense"

    for to in awq gptq gptq_v2 ct; do
        out="$SCRATCH/$name.$to"
        reason=""
        case "$name:$to" in
        *desc_act*:awq | *actorder*:awq) reason="act-order" ;;
        *zero16*:awq | *zero16*:gptq_v2 | *zero16*:ct) reason="zero point 16" ;;
        esac
        if [ -n "$reason" ]; then
            expect_rc 1 "$W4A16" convert "$dir" --to "$to" -o "$out"
            expect_one_line_error
            expect_stderr_has "$reason"
            [ -e "$out/model.safetensors" ] && fail "$name -> $to failed but wrote $out"
            continue
        fi
        expect_rc 0 "$W4A16" convert "$dir" --to "$to" -o "$out"
        # Scales rounded to another dtype are reported on stderr.
        exact=1
        if [ -s "$ERR" ] && ! grep -q "every scale exact" "$ERR"; then exact=0; fi
        expect_rc 0 "$W4A16" convert "$out" --to dense --dtype f32 -o "$out.dense"
        grep -q "^converted 2 layers from $to to dense" "$OUT" || fail "$name -> $to: $(cat "$OUT")"
        echo "$name $to $exact" >>"$manifest"
    done
done

python3 - "$SCRATCH" "$HERE" <<'PY' || fail "see above"
import json, sys
scratch, here = sys.argv[1], sys.argv[2]
sys.path.insert(0, here)
import st_tool


def weights(path):
    return {n: list(st_tool.values(t[0], t[2])) for n, t in st_tool.read(path).items()}


runs = [line.split() for line in open(scratch + "/manifest")]
for name in sorted({r[0] for r in runs}):
    # What the fixture's name says its producer was asked for.
    d = json.load(open(f"{scratch}/{name}.json"))
    family = "awq" if name.startswith("awq") else "ct" if name.startswith("ct") else "gptq"
    group = -1 if "channel" in name else int(name.split("_g")[-1].split("_")[0])
    sym, act_order = "_sym_" in name, "desc_act" in name or "actorder" in name
    assert d["format"] == family and d["other_tensors"] == [] and len(d["layers"]) == 2, (name, d)
    for l in d["layers"]:
        assert l["status"] == "quantized" and l["reason"] == "", (name, l)
        assert l["k"] == 256 and l["n"] in (32, 64), (name, l)
        assert (l["group_size"], l["symmetric"], l["act_order"]) == (group, sym, act_order), (name, l)
for name, to, exact in runs:
    out = f"{scratch}/{name}.{to}"
    a, b = weights(f"{scratch}/{name}.dense/model.safetensors"), weights(out + ".dense/model.safetensors")
    assert a.keys() == b.keys(), (name, to)
    for n in a:
        largest = max(abs(x) for x in a[n])
        worst = max(abs(x - y) for x, y in zip(a[n], b[n]))
        # A scale rounded to F16 moves W = (q - z) s by at most 2^-11 of itself.
        bound = 0 if exact == "1" else largest * 2**-11
        assert worst <= bound, (name, to, n, worst, bound)
print(len(runs), "conversions checked")
PY
[ "$(wc -l <"$manifest")" -ge 40 ] || fail "only $(wc -l <"$manifest") conversions ran"
echo "ok"
