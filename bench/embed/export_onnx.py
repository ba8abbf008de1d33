#!/usr/bin/env python3
"""Export all-MiniLM-L6-v2's BertModel to ONNX once (token embeddings out;
pooling and normalization are done in numpy by bench_py.py, as
sentence-transformers does them in torch). Usage: export_onnx.py MODEL_DIR OUT.onnx"""
import sys, torch
from transformers import AutoModel
model_dir, out = sys.argv[1], sys.argv[2]
bert = AutoModel.from_pretrained(model_dir).eval()


class Wrap(torch.nn.Module):
    # Keyword call: BertModel.forward's positional order changes between
    # transformers versions.
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


m = Wrap(bert).eval()
ids = torch.ones(2, 16, dtype=torch.long)
with torch.no_grad():
    torch.onnx.export(m, (ids, torch.ones_like(ids), torch.zeros_like(ids)), out,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
                      opset_version=17, dynamo=False)
print(out)
