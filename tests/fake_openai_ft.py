"""A local fake of OpenAI's file and fine-tuning endpoints (127.0.0.1 only), following the public API shapes:
POST /v1/files, POST /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs/{id}, GET .../events, POST .../cancel.

``outcome``: "succeed" (queued → running → succeeded after ``polls`` retrievals), "fail", or "hang" (stays
running until cancelled)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeFineTuning:
    def __init__(self, outcome: str = "succeed", polls: int = 3):
        self.outcome, self.polls = outcome, polls
        self.files: list[dict] = []
        self.jobs: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, obj, code=200):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(("POST", self.path))
                with outer.lock:
                    if self.path == "/v1/files":
                        f = {
                            "id": f"file-{len(outer.files) + 1}",
                            "object": "file",
                            "bytes": len(body),
                            "created_at": int(time.time()),
                            "filename": "train.jsonl",
                            "purpose": "fine-tune",
                            "status": "processed",
                        }
                        outer.files.append(f)
                        return self._send(f)
                    if self.path == "/v1/fine_tuning/jobs":
                        req = json.loads(body)
                        jid = f"ftjob-{len(outer.jobs) + 1}"
                        outer.jobs[jid] = {"req": req, "polls": 0, "status": "queued", "events": []}
                        return self._send(outer._job(jid))
                    m = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)/cancel", self.path)
                    if m and m.group(1) in outer.jobs:
                        outer.jobs[m.group(1)]["status"] = "cancelled"
                        return self._send(outer._job(m.group(1)))
                self._send({"error": {"message": "not found"}}, 404)

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                with outer.lock:
                    m = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)(/events)?(\?.*)?", self.path)
                    if not m or m.group(1) not in outer.jobs:
                        return self._send({"error": {"message": "not found"}}, 404)
                    jid = m.group(1)
                    if m.group(2):
                        return self._send(
                            {"object": "list", "data": list(reversed(outer.jobs[jid]["events"])), "has_more": False}
                        )
                    outer._advance(jid)
                    return self._send(outer._job(jid))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _event(self, jid, msg, typ="message", data=None):
        j = self.jobs[jid]
        j["events"].append(
            {
                "id": f"ev-{jid}-{len(j['events']) + 1}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()) + len(j["events"]),
                "level": "info",
                "message": msg,
                "type": typ,
                "data": data or {},
            }
        )

    def _advance(self, jid):
        j = self.jobs[jid]
        if j["status"] in ("succeeded", "failed", "cancelled"):
            return
        j["polls"] += 1
        if j["status"] == "queued":
            j["status"] = "running"
            self._event(jid, "Fine-tuning job started")
        elif j["status"] == "running":
            step = j["polls"]
            self._event(
                jid,
                f"Step {step}: training loss={1.0 / step:.3f}",
                "metrics",
                {"step": step, "train_loss": 1.0 / step, "train_mean_token_accuracy": 0.5 + step / 100},
            )
            if self.outcome != "hang" and j["polls"] >= self.polls:
                j["status"] = "succeeded" if self.outcome == "succeed" else "failed"
                self._event(jid, "The job has successfully completed" if j["status"] == "succeeded" else "Job failed")

    def _job(self, jid):
        j = self.jobs[jid]
        ok = j["status"] == "succeeded"
        return {
            "id": jid,
            "object": "fine_tuning.job",
            "created_at": 0,
            "model": j["req"]["model"],
            "status": j["status"],
            "training_file": j["req"]["training_file"],
            "validation_file": j["req"].get("validation_file"),
            "hyperparameters": {"n_epochs": 3},
            "fine_tuned_model": f"ft:{j['req']['model']}:contoso::{jid}" if ok else None,
            "error": {"code": "invalid_training_file", "message": "training file invalid", "param": None}
            if j["status"] == "failed"
            else None,
            "organization_id": "org-x",
            "result_files": [],
            "seed": j["req"].get("seed"),
            "trained_tokens": 1000 if ok else None,
            "finished_at": None,
        }

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
