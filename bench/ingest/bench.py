"""Side-by-side load benchmark (issue 7). For each size it writes a random
fvecs file, then for each loader creates a fresh lucene HNSW index
(replicas 0, 1 shard), runs the loader as a child process, reads its CPU
time and peak RSS from wait4(), refreshes and checks the count. Prints
docs/s, loader CPU seconds per 10k documents, peak RSS and the ratios.

Loaders: knnbridge load (defaults: 5 MB batches, senders from the cluster
size, index tuning on), opensearch-py helpers.parallel_bulk (chunk 500,
same number of threads), a minimal opensearch-go loop (1000-doc batches,
same number of goroutines, no retries or checks).

A second part loads 100k and 1M vectors into a stub bulk endpoint
(bench/ingest/stub) to compare knnbridge's peak RSS across input sizes
without waiting hours for the real cluster to index 1M vectors."""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request


def req(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=600) as resp:
        return json.loads(resp.read() or b"{}")


def fresh_index(url, name, dim):
    try:
        req(f"{url}/{name}", "DELETE")
    except Exception:
        pass
    req(f"{url}/{name}", "PUT", {
        "settings": {"index.knn": True, "number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {"vector": {"type": "knn_vector", "dimension": dim,
                                               "method": {"name": "hnsw", "engine": "lucene", "space_type": "l2"}}}}})


def run(cmd, env=None):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate()  # communicate() reaps via waitpid; use wait4 below instead
    wall = time.monotonic() - t0
    return p, out, err, wall


def run4(cmd, env=None):
    t0 = time.monotonic()
    with open(os.devnull, "wb") as dn:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=dn, env=env)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024, "rc": p.returncode, "out": out.decode()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dims", default="128,384")
    ap.add_argument("--senders", type=int, default=0, help="0: knnbridge's default for this cluster")
    ap.add_argument("--bin", required=True, help="dir with knnbridge, minimal, gen, stub binaries")
    ap.add_argument("--python", default=sys.executable, help="python with opensearch-py")
    ap.add_argument("--work", required=True)
    ap.add_argument("--rss-n", default="100000,1000000")
    ap.add_argument("--skip-cluster", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds per size; medians are reported")
    a = ap.parse_args()
    b = lambda x: os.path.join(a.bin, x)
    here = os.path.dirname(os.path.abspath(__file__))
    senders = a.senders
    if senders == 0:
        nodes = req(f"{a.url}/_cat/nodes?format=json&h=node.role")
        senders = min(max(2 * sum("d" in n["node.role"] for n in nodes), 2), 32)
    results = []
    if not a.skip_cluster:
        for dim in [int(x) for x in a.dims.split(",")]:
            f = os.path.join(a.work, f"v{a.n}x{dim}.fvecs")
            if not os.path.exists(f):
                subprocess.check_call([b("gen"), "-n", str(a.n), "-d", str(dim), "-o", f])
            loaders = {
                "knnbridge": lambda idx: [b("knnbridge"), "load", f, "--index", idx, "--opensearch-url", a.url,
                                          "--senders", str(senders), "--progress", "off", "-o", "json",
                                          "--checkpoint", os.path.join(a.work, idx + ".ck")],
                "go-minimal": lambda idx: [b("minimal"), "-url", a.url, "-index", idx, "-file", f, "-senders", str(senders)],
                "opensearch-py": lambda idx: [a.python, os.path.join(here, "peer_py.py"), "--url", a.url, "--index", idx,
                                              "--file", f, "--senders", str(senders)],
            }
            row = {"dim": dim, "n": a.n}
            names = list(loaders)
            runs = {name: [] for name in names}
            # Interleave the loaders (rotating the order each round) so that
            # load from other processes on a shared machine hits all of them
            # alike; report the median round.
            for rnd in range(a.repeat):
                order = names[rnd % len(names):] + names[:rnd % len(names)]
                for name in order:
                    idx = f"bench-ingest-{name}-{dim}"
                    fresh_index(a.url, idx, dim)
                    r = run4(loaders[name](idx))
                    req(f"{a.url}/{idx}/_refresh", "POST")
                    count = req(f"{a.url}/{idx}/_count")["count"]
                    r["count"] = count
                    r["docs_per_s"] = a.n / r["wall"]
                    r["cpu_per_10k"] = r["cpu"] / a.n * 10000
                    del r["out"]
                    runs[name].append(r)
                    print(f"dim {dim} round {rnd} {name:14s} wall {r['wall']:7.1f}s  {r['docs_per_s']:7.0f} docs/s  "
                          f"cpu {r['cpu']:6.2f}s ({r['cpu_per_10k']:.3f} s/10k docs)  rss {r['rss_mb']:6.1f} MB  "
                          f"count {count} rc {r['rc']}", flush=True)
                    if count != a.n:
                        print(f"  WARNING: {name} left {count} documents of {a.n}", flush=True)
                    try:
                        req(f"{a.url}/{idx}", "DELETE")
                    except Exception:
                        pass
            med = lambda xs: sorted(xs)[len(xs) // 2]
            for name in names:
                row[name] = {"runs": runs[name], "docs_per_s": med([r["docs_per_s"] for r in runs[name]]),
                             "cpu_per_10k": med([r["cpu_per_10k"] for r in runs[name]]),
                             "rss_mb": med([r["rss_mb"] for r in runs[name]])}
            for name in names:
                # Throughput over all rounds (total docs / total wall time):
                # with the order rotated, each loader ran once in each slot,
                # which evens out a noisy, shared machine better than a median.
                row[name]["docs_per_s_total"] = a.n * a.repeat / sum(r["wall"] for r in runs[name])
            kt = row["knnbridge"]["docs_per_s_total"]
            print(f"dim {dim} all rounds: docs/s knnbridge {kt:.0f}, go-minimal {row['go-minimal']['docs_per_s_total']:.0f}, "
                  f"opensearch-py {row['opensearch-py']['docs_per_s_total']:.0f}; ratios knnbridge/opensearch-py "
                  f"{kt / row['opensearch-py']['docs_per_s_total']:.2f}x, knnbridge/go-minimal "
                  f"{kt / row['go-minimal']['docs_per_s_total']:.2f}x", flush=True)
            k = row["knnbridge"]["docs_per_s"]
            print(f"dim {dim} medians of {a.repeat}: docs/s knnbridge {k:.0f}, go-minimal {row['go-minimal']['docs_per_s']:.0f}, "
                  f"opensearch-py {row['opensearch-py']['docs_per_s']:.0f}; ratios knnbridge/opensearch-py "
                  f"{k / row['opensearch-py']['docs_per_s']:.2f}x, knnbridge/go-minimal {k / row['go-minimal']['docs_per_s']:.2f}x; "
                  f"loader CPU s per 10k docs: knnbridge {row['knnbridge']['cpu_per_10k']:.3f}, go-minimal "
                  f"{row['go-minimal']['cpu_per_10k']:.3f}, opensearch-py {row['opensearch-py']['cpu_per_10k']:.3f}", flush=True)
            results.append(row)
    # Peak RSS vs input size, against the stub endpoint.
    stub = subprocess.Popen([b("stub"), "-addr", "127.0.0.1:9299", "-dim", "128"])
    time.sleep(0.5)
    rss = {}
    try:
        ns = [int(x) for x in a.rss_n.split(",")]
        for n in ns:
            f = os.path.join(a.work, f"v{n}x128.fvecs")
            if not os.path.exists(f):
                subprocess.check_call([b("gen"), "-n", str(n), "-d", "128", "-o", f])
        runs = {n: [] for n in ns}
        for rnd in range(a.repeat):  # interleaved, medians reported
            for n in ns:
                f = os.path.join(a.work, f"v{n}x128.fvecs")
                r = run4([b("knnbridge"), "load", f, "--index", "idx", "--opensearch-url", "http://127.0.0.1:9299",
                          "--senders", "2", "--progress", "off", "--tune", "off", "-o", "json",
                          "--checkpoint", os.path.join(a.work, f"stub{n}-{rnd}.ck")])
                runs[n].append(r)
                print(f"stub round {rnd} n={n:8d}: rss {r['rss_mb']:.1f} MB, cpu {r['cpu']:.2f}s "
                      f"({r['cpu'] / n * 10000:.3f} s/10k docs), {n / r['wall']:.0f} docs/s, rc {r['rc']}", flush=True)
        med = lambda xs: sorted(xs)[len(xs) // 2]
        for n in ns:
            rss[n] = {"rss_mb": med([r["rss_mb"] for r in runs[n]]), "runs": runs[n]}
        print(f"peak RSS (median of {a.repeat}) n={ns[-1]}: {rss[ns[-1]]['rss_mb']:.1f} MB, n={ns[0]}: "
              f"{rss[ns[0]]['rss_mb']:.1f} MB, ratio {rss[ns[-1]]['rss_mb'] / rss[ns[0]]['rss_mb']:.3f}x", flush=True)
    finally:
        stub.kill()
    with open(os.path.join(a.work, "results.json"), "w") as fh:
        json.dump({"cluster": results, "rss": {str(k): v for k, v in rss.items()}}, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
