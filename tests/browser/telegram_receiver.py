"""Answers Telegram Bot API's sendMessage on 127.0.0.1 and appends each
message, as JSON, to a file: the browser tier's stand-in for a network
this machine cannot reach.

    python telegram_receiver.py PORT FILE
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.path.endswith("/sendMessage"):
            self.send_error(404)
            return
        message = json.loads(body or b"{}")
        with open(sys.argv[2], "a") as out:
            out.write(json.dumps({"path": self.path, **message}) + "\n")
        reply = json.dumps({"ok": True, "result": {"message_id": 1, "text": message.get("text", "")}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
