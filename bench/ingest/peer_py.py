"""opensearch-py helpers.parallel_bulk loading an fvecs file: the peer of
knnbridge load in bench/ingest. Reads the file with the standard library
(array module), yields one action per vector, thread_count=--senders,
chunk_size=--chunk (the benchmark passes its --batch, 1000, to every loader)."""
import argparse
import array
import json
import struct
import sys

from opensearchpy import OpenSearch, helpers


def actions(path, index):
    with open(path, "rb") as f:
        i = 0
        while True:
            hdr = f.read(4)
            if len(hdr) < 4:
                return
            (d,) = struct.unpack("<i", hdr)
            v = array.array("f")
            v.frombytes(f.read(4 * d))
            yield {"_index": index, "_id": str(i), "_source": {"vector": v.tolist()}}
            i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=500)
    a = ap.parse_args()
    client = OpenSearch(hosts=[a.url], timeout=120)
    ok = failed = 0
    for success, _ in helpers.parallel_bulk(client, actions(a.file, a.index), thread_count=a.senders,
                                            chunk_size=a.chunk, raise_on_error=False):
        if success:
            ok += 1
        else:
            failed += 1
    print(json.dumps({"docs": ok + failed, "failed": failed}))


if __name__ == "__main__":
    sys.exit(main())
