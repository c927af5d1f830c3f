"""A small decoder named the way Hugging Face models name their modules
(model.layers.N.self_attn.q_proj, ...), and its quantized checkpoint, for the
load_quantized tests (transformers itself is not needed); a small
transformers Qwen3 with its checkpoint, for the tests that take it; and a
counter of a merged model's GEMM calls."""
import numpy as np
import torch
from torch import nn

import w4a16
from w4a16.checkpoint_writer import save_quantized

HIDDEN, INTERMEDIATE, KV, VOCAB, LAYERS = 256, 512, 128, 300, 2


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HIDDEN, bias=True)
        self.k_proj = nn.Linear(HIDDEN, KV, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV, bias=False)
        self.o_proj = nn.Linear(HIDDEN, HIDDEN, bias=False)

    def forward(self, h):
        kv = torch.sigmoid(self.k_proj(h)) * self.v_proj(h)
        return self.o_proj(self.q_proj(h) * kv.repeat(1, 1, HIDDEN // KV))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.down_proj = nn.Linear(INTERMEDIATE, HIDDEN, bias=False)

    def forward(self, h):
        return self.down_proj(nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(HIDDEN)
        self.self_attn = Attention()
        self.mlp = MLP()

    def forward(self, h):
        h = h + self.self_attn(self.input_layernorm(h))
        return h + self.mlp(h)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.norm = nn.LayerNorm(HIDDEN)


class ToyForCausalLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Decoder()
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)

    def forward(self, ids):
        h = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            h = layer(h)
        return self.lm_head(self.model.norm(h))


def linear_names(model):
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and name != "lm_head"]


def make_checkpoint(directory, format="awq", symmetric=False, group_size=128, seed=0):
    """A random fp16 ToyForCausalLM, its quantized checkpoint in `directory`,
    and the same model with the dequantized weights (the reference)."""
    torch.manual_seed(seed)
    model = ToyForCausalLM().half()
    layers, other = {}, {}
    for name in linear_names(model):
        linear = model.get_submodule(name)
        layers[name] = w4a16.quantize(linear.weight.detach().float().numpy(), group_size,
                                      symmetric)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layers[name].dequantize()))
    for key, value in model.state_dict().items():
        if key.rpartition(".")[0] not in layers or key.endswith(".bias"):
            other[key] = value.numpy()
    save_quantized(directory, format, layers, other_tensors=other,
                   config={"model_type": "toy", "hidden_size": HIDDEN})
    return model, layers


def meta_model():
    with torch.device("meta"):
        return ToyForCausalLM().half()


def token_ids(batch=2, length=24, seed=1):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, VOCAB, (batch, length)))


def qwen3_checkpoint(directory):
    """transformers' Qwen3 at a small size (2 layers, hidden 256, 4 q and 2 kv
    heads of 64, vocab 512) with random weights, its linear layers quantized
    (AWQ, group 128, with zero points) into `directory`. Returns (config, the
    fp16 model on the CPU with Ŵ in its linear layers: the reference).
    Needs transformers."""
    import transformers
    config = transformers.Qwen3Config(vocab_size=512, hidden_size=256, intermediate_size=512,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, head_dim=64,
                                      tie_word_embeddings=True)
    torch.manual_seed(0)
    reference = transformers.Qwen3ForCausalLM(config).half().eval()
    layers = {}
    for name, module in reference.named_modules():
        if isinstance(module, nn.Linear) and name != "lm_head":
            layers[name] = w4a16.quantize(module.weight.detach().float().numpy(), 128, False)
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(layers[name].dequantize()))
    others = {k: v.numpy() for k, v in reference.state_dict().items()
              if k.rpartition(".")[0] not in layers and k != "lm_head.weight"}
    save_quantized(directory, "awq", layers, others, config=config.to_dict())
    return config, reference


def merged_calls(model):
    """A list that gets an entry at each call of any merged layer of the model."""
    calls = []
    for module in model.modules():
        if isinstance(module, w4a16.W4A16MergedLinear):
            module.register_forward_hook(lambda layer, inputs, output: calls.append(layer))
    return calls
