"""The PyTorch side of apps/cli/test/python-twin.test.ts (run by that test, not by pytest).

Reads one JSON request on stdin and writes one JSON answer on stdout:
  {"checkpoint": DIR, "ids": [[...], ...]}          -> {"logits": [flat float32], "bitsPerByte": x}
  {"create": CONFIG, "seed": S, "save": DIR, "ids"} -> the same for a new model, saved to DIR first
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

from megabyte_torch import create_model, load_checkpoint, parse_config, save_checkpoint  # noqa: E402


def main() -> None:
    request = json.load(sys.stdin)
    if "create" in request:
        torch.manual_seed(request["seed"])
        model = create_model(parse_config(request["create"])).eval()
        save_checkpoint(model, request["save"])
    else:
        model = load_checkpoint(request["checkpoint"])
    ids = torch.tensor(request["ids"], dtype=torch.long)
    with torch.no_grad():
        logits = model(ids)
        bits = model.loss(ids).item() / torch.log(torch.tensor(2.0)).item()
    json.dump({"logits": logits.reshape(-1).tolist(), "bitsPerByte": bits}, sys.stdout)


if __name__ == "__main__":
    main()
