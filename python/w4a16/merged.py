"""Merged projections: layers that read the same input (q|k|v, gate|up)
packed as one W4A16Linear, so one GEMM runs where three (or two) did.

The merged layer lives once, beside the model's own modules (e.g.
self_attn.qkv_proj); each of those (q_proj, k_proj, v_proj) becomes a
W4A16LinearPart that returns its columns of the merged output. The model's
code is left as it is: it still calls q_proj(x), k_proj(x), v_proj(x).

The first part called with an input runs the GEMM and the merged layer keeps
(the input, its version counter, the output); a part called with the same
tensor object, not modified in place since, takes its columns of the kept
output, and any other input runs the GEMM again. Once every part has taken
its columns both are let go, so nothing is kept between forwards, and at
most one input and output per merged layer ever are (a part called alone
holds them until the next call). Inference tensors (torch.inference_mode)
count no versions and torch.compile cannot read them: there the same object
is taken as unchanged, which holds for the models' q, k, v and gate, up
calls (none writes into its input). torch.compile traces the parts' state
like any Python: its graph holds one GEMM per merged layer and nothing is
kept after it. Under CUDA graph capture the captured GEMM writes the output
that the parts' views read, at every replay.
"""
import torch
from torch import nn

from .errors import argument_error, shape_error
from .linear import W4A16Linear


def _version(x):
    """x's version counter, or None where none is read: for an inference
    tensor (made under torch.inference_mode, which counts no versions) and
    under torch.compile (which cannot trace it)."""
    if torch.compiler.is_compiling() or x.is_inference():
        return None
    return x._version


class W4A16MergedLinear(W4A16Linear):
    """Several layers with the same input packed as one: y = x · [Ŵ_0; Ŵ_1; ...]ᵀ.

    x is [..., in_features] float16 or bfloat16 (the packed dtype) on the
    module's CUDA device; forward returns the whole [..., out_features],
    out_features = sum(part_out_features); part(i, x) returns part i's
    columns [..., part_out_features[i]], a view of the merged output.
    part_names are the model's names of the merged layers inside their parent
    module (e.g. ["q_proj", "k_proj", "v_proj"]); state_dict() saves them with
    the header, so a saved model loads back merged."""

    def __init__(self, packed=None, bias=None, part_names=(), part_out_features=()):
        super().__init__(packed, bias)
        self._kept = None
        self.part_names, self.part_out_features, self._part_begin = [], [], []
        if part_names:
            self.set_parts(part_names, part_out_features)

    def set_parts(self, names, out_features):
        """Names the merged layers, in order, and how many outputs each has."""
        names, out_features = [str(n) for n in names], [int(n) for n in out_features]
        if len(names) != len(out_features) or len(names) < 2:
            raise argument_error(f"parts {names} with out_features {out_features}: a merged "
                                 f"layer has two or more parts, each with its out_features")
        if self._header is not None and sum(out_features) != self.out_features:
            raise shape_error(f"parts {names} have {sum(out_features)} outputs together; the "
                              f"packed weight has {self.out_features}")
        self.part_names, self.part_out_features = names, out_features
        self._part_begin = [sum(out_features[:i]) for i in range(len(names))]
        self._kept = None

    def part(self, index, x):
        """Part `index`'s columns of the merged output for x: a view
        [..., part_out_features[index]] (its last dimension has stride 1, the
        others the merged output's). Runs the GEMM unless the output for this
        very tensor, unchanged since, is kept."""
        begin, size = self._part_begin[index], self.part_out_features[index]
        version = _version(x)
        kept = self._kept  # (input, its version, output, the parts that took theirs)
        if kept is None or kept[0] is not x or kept[1] != version:
            kept = self._kept = (x, version, self(x), set())
        kept[3].add(index)
        if len(kept[3]) == len(self.part_names):
            self._kept = None  # every part has its columns: hold nothing between calls
        return kept[2].narrow(-1, begin, size)

    def release(self):
        """Lets the kept output go now (it goes anyway once every part took it)."""
        self._kept = None

    def get_extra_state(self):
        state = super().get_extra_state()
        state["w4a16_parts"] = {"names": list(self.part_names),
                                "out_features": list(self.part_out_features)}
        return state

    def set_extra_state(self, state):
        super().set_extra_state(state)
        parts = state.get("w4a16_parts") if isinstance(state, dict) else None
        if parts:
            self.set_parts(parts["names"], parts["out_features"])

    def extra_repr(self):
        parts = ", ".join(f"{name}={n}" for name, n in zip(self.part_names,
                                                          self.part_out_features))
        return f"{super().extra_repr()}, parts=[{parts}]"


class W4A16LinearPart(nn.Module):
    """One layer of a W4A16MergedLinear, standing in the model's place (its
    q_proj, say): forward(x) [..., in_features] returns its columns of the
    merged output, [..., out_features], a view (strided unless it is the
    only part). It holds no tensors and saves nothing: the merged layer is
    not registered as its submodule, so its buffers are saved once, under
    the merged layer's own name."""

    def __init__(self, merged, index, merged_name):
        super().__init__()
        object.__setattr__(self, "_merged", merged)  # not a submodule (see above)
        self.index = index
        self.merged_name = merged_name

    @property
    def merged(self):
        return self._merged

    @property
    def in_features(self):
        return self._merged.in_features

    @property
    def out_features(self):
        return self._merged.part_out_features[self.index]

    def forward(self, x):
        return self._merged.part(self.index, x)

    def kernel_name(self, rows):
        """The kernel the merged layer's call with `rows` rows of x would run."""
        return self._merged.kernel_name(rows)

    def extra_repr(self):
        begin = self._merged._part_begin[self.index]
        return (f"{self.merged_name}[{begin}:{begin + self.out_features}], "
                f"in_features={self.in_features}")


def install_merged(parent, merged_name, merged):
    """Puts `merged` into `parent` as `merged_name` and a W4A16LinearPart in
    place of each of its parts (the modules there before are dropped: the
    caller checked that `merged_name` is free)."""
    setattr(parent, merged_name, merged)
    for index, name in enumerate(merged.part_names):
        setattr(parent, name, W4A16LinearPart(merged, index, merged_name))
