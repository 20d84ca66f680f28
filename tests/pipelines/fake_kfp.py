"""A loopback HTTP server answering like the Kubeflow Pipelines v2beta1 API.

It records every request (method, path, query, JSON or multipart body) so tests
can assert exactly what ``kfp.Client`` sent. Only the endpoints driftgate uses
are served; anything else answers 404 so an unexpected call fails the test.
This is not a Kubeflow stand-in: it checks our requests, not Kubeflow's behaviour.
"""

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

NOW = "2026-11-23T10:00:00Z"


class FakeKfp:
    def __init__(self):
        self.requests = []
        self.pipelines = {}  # id -> pipeline dict
        self.versions = {}  # pipeline id -> [version dicts], newest last
        self.experiments = {}
        self.recurring = {}
        self.runs = []
        self.finish_runs_as = None  # state a polled run reports (None: unchanged)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method, pattern):
        return [r for r in self.requests if r["method"] == method and re.fullmatch(pattern, r["path"])]

    # --- request handling -------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, code, payload):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _dispatch(self, method):
                url = urlparse(self.path)
                raw = self._body()
                rec = {
                    "method": method,
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "headers": dict(self.headers),
                    "raw": raw,
                }
                if raw and self.headers.get("Content-Type", "").startswith("application/json"):
                    rec["json"] = json.loads(raw)
                fake.requests.append(rec)
                code, payload = fake.route(method, url.path, rec)
                self._send(code, payload)

            def do_GET(self):
                self._dispatch("GET")

            def do_POST(self):
                self._dispatch("POST")

            def do_DELETE(self):
                self._dispatch("DELETE")

        return Handler

    @staticmethod
    def _filter_name(rec):
        flt = rec["query"].get("filter")
        if not flt:
            return None
        preds = json.loads(flt[0]).get("predicates", [])
        return next(
            (p.get("stringValue") or p.get("string_value") for p in preds if p.get("key") == "display_name"),
            None,
        )

    @staticmethod
    def _upload_file(raw: bytes) -> str:
        # multipart/form-data: the pipeline file is the part named uploadfile
        m = re.search(rb'name="uploadfile".*?\r\n\r\n(.*?)\r\n--', raw, re.S)
        return m.group(1).decode() if m else ""

    def route(self, method, path, rec):
        api = "/apis/v2beta1"
        q = rec["query"]
        if path == f"{api}/healthz":
            return 200, {"multi_user": False}
        if method == "GET" and path == f"{api}/pipelines":
            name = self._filter_name(rec)
            found = [p for p in self.pipelines.values() if name is None or p["display_name"] == name]
            return 200, {"pipelines": found, "total_size": len(found)}
        if method == "POST" and path == f"{api}/pipelines/upload":
            pid = uuid.uuid4().hex
            name = q.get("name", [""])[0]
            rec["spec"] = self._upload_file(rec["raw"])
            self.pipelines[pid] = {"pipeline_id": pid, "display_name": name, "created_at": NOW}
            self.versions[pid] = [
                {
                    "pipeline_id": pid,
                    "pipeline_version_id": uuid.uuid4().hex,
                    "display_name": name,
                    "created_at": NOW,
                }
            ]
            return 200, self.pipelines[pid]
        if method == "POST" and path == f"{api}/pipelines/upload_version":
            pid = q.get("pipelineid", [""])[0]
            if pid not in self.pipelines:
                return 404, {"error": "pipeline not found"}
            rec["spec"] = self._upload_file(rec["raw"])
            v = {
                "pipeline_id": pid,
                "pipeline_version_id": uuid.uuid4().hex,
                "display_name": q.get("name", [""])[0],
                "created_at": NOW,
            }
            self.versions[pid].append(v)
            return 200, v
        m = re.fullmatch(rf"{api}/pipelines/([^/]+)/versions", path)
        if method == "GET" and m:
            versions = list(reversed(self.versions.get(m.group(1), [])))
            size = int(q.get("page_size", ["100"])[0])
            return 200, {"pipeline_versions": versions[:size], "total_size": len(versions)}
        if method == "GET" and path == f"{api}/experiments":
            name = self._filter_name(rec)
            found = [e for e in self.experiments.values() if name is None or e["display_name"] == name]
            return 200, {"experiments": found, "total_size": len(found)}
        if method == "POST" and path == f"{api}/experiments":
            eid = uuid.uuid4().hex
            self.experiments[eid] = dict(rec["json"], experiment_id=eid, created_at=NOW)
            return 200, self.experiments[eid]
        if method == "GET" and path == f"{api}/recurringruns":
            eid = q.get("experiment_id", [None])[0]
            found = [r for r in self.recurring.values() if eid is None or r["experiment_id"] == eid]
            return 200, {"recurringRuns": found, "total_size": len(found)}
        if method == "POST" and path == f"{api}/recurringruns":
            rid = uuid.uuid4().hex
            self.recurring[rid] = dict(rec["json"], recurring_run_id=rid, created_at=NOW, status="ENABLED")
            return 200, self.recurring[rid]
        m = re.fullmatch(rf"{api}/recurringruns/([^/:]+):disable", path)
        if method == "POST" and m:
            self.recurring[m.group(1)]["mode"] = "DISABLE"
            return 200, {}
        m = re.fullmatch(rf"{api}/recurringruns/([^/:]+)", path)
        if method == "DELETE" and m:
            self.recurring.pop(m.group(1))
            return 200, {}
        if method == "GET" and path == f"{api}/runs":
            return 200, {"runs": self.runs, "total_size": len(self.runs)}
        if method == "POST" and path == f"{api}/runs":
            run = dict(rec["json"], run_id=uuid.uuid4().hex, created_at=NOW, state="PENDING")
            self.runs.append(run)
            return 200, run
        m = re.fullmatch(rf"{api}/runs/([^/:]+)", path)
        if method == "GET" and m:
            found = [r for r in self.runs if r["run_id"] == m.group(1)]
            if not found:
                return 404, {"error": "run not found"}
            found[0]["state"] = self.finish_runs_as or found[0]["state"]
            return 200, found[0]
        return 404, {"error": f"unexpected {method} {path}"}
