#!/usr/bin/env python3
"""A mock model server for driving coding agents end to end in tests.

It speaks just enough of two wire formats for an agent's turn:
  - Anthropic Messages (POST .../v1/messages, streaming or not): Claude Code.
  - OpenAI Responses (POST .../v1/responses, streaming): Codex.
Each model answer is the next shell command of a script, as a tool call; once every command's
result has come back, the answer is a final text ("all done") and the turn ends. Every request
body and every tool result is appended to a log (JSON lines) that the test reads from outside.

Usage: mock_model.py ADDRESS PORT LOG COMMAND...
"""
import json
import sys
import http.server

ADDRESS, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
COMMANDS = sys.argv[4:]


def log(record):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def anthropic_tool_results(body):
    """The tool results in the conversation so far, in order."""
    results = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                text = block.get("content")
                if isinstance(text, list):
                    text = "".join(b.get("text", "") for b in text if isinstance(b, dict))
                results.append(text if isinstance(text, str) else json.dumps(text))
    return results


def has_tool(body, name):
    return any(isinstance(t, dict) and t.get("name") == name for t in body.get("tools", []) or [])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        log({"method": "GET", "path": self.path})
        self.reply(404, {"error": "not found"})

    def do_HEAD(self):
        self.reply(200, b"", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?")[0]
        if path.endswith("/v1/messages/count_tokens"):
            self.reply(200, {"input_tokens": 10})
            return
        if path.endswith("/v1/messages"):
            self.anthropic(body)
            return
        if path.endswith("/responses"):
            self.openai_responses(body)
            return
        log({"method": "POST", "path": self.path})
        self.reply(404, {"error": "not found"})

    # --- Anthropic Messages --------------------------------------------------------------------
    def anthropic(self, body):
        results = anthropic_tool_results(body)
        # Side requests (titles, quota probes) have no Bash tool: answer them with plain text.
        drives = has_tool(body, "Bash")
        log({"api": "anthropic", "drives": drives, "tool_results": results,
             "model": body.get("model")})
        if drives and len(results) < len(COMMANDS):
            block = {"type": "tool_use", "id": "toolu_%02d" % len(results), "name": "Bash",
                     "input": {"command": COMMANDS[len(results)],
                               "description": "step %d" % len(results)}}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": "all done"}
            stop = "end_turn"
        message = {"id": "msg_%d" % len(results), "type": "message", "role": "assistant",
                   "model": body.get("model", "mock"), "content": [], "stop_reason": None,
                   "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}
        if not body.get("stream"):
            message["content"] = [block]
            message["stop_reason"] = stop
            self.reply(200, message)
            return
        events = [("message_start", {"type": "message_start", "message": message})]
        if block["type"] == "tool_use":
            events.append(("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "tool_use", "id": block["id"], "name": "Bash",
                                  "input": {}}}))
            events.append(("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        else:
            events.append(("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}))
            events.append(("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": block["text"]}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": 5}}))
        events.append(("message_stop", {"type": "message_stop"}))
        self.stream(events)

    def stream(self, events):
        data = "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(payload))
                       for name, payload in events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # --- OpenAI Responses ----------------------------------------------------------------------
    def openai_responses(self, body):
        results = []
        for item in body.get("input", []) or []:
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                out = item.get("output")
                results.append(out if isinstance(out, str) else json.dumps(out))
        log({"api": "openai", "tool_results": results, "model": body.get("model")})
        rid = "resp_%d" % len(results)
        if len(results) < len(COMMANDS):
            command = COMMANDS[len(results)]
            # Codex names its shell tool exec_command (a command line); older ones, shell (argv).
            if has_tool(body, "exec_command"):
                name, arguments = "exec_command", {"cmd": command, "login": False}
            else:
                name, arguments = "shell", {"command": ["bash", "-c", command]}
            item = {"type": "function_call", "id": "fc_%d" % len(results),
                    "call_id": "call_%d" % len(results), "name": name,
                    "arguments": json.dumps(arguments), "status": "completed"}
        else:
            item = {"type": "message", "id": "msg_%d" % len(results), "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "all done", "annotations": []}]}
        response = {"id": rid, "object": "response", "status": "completed", "model":
                    body.get("model", "mock"), "output": [item],
                    "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                              "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}}}
        created = dict(response, status="in_progress", output=[])
        events = [("response.created", {"type": "response.created", "response": created}),
                  ("response.output_item.added", {"type": "response.output_item.added",
                                                  "output_index": 0, "item": item}),
                  ("response.output_item.done", {"type": "response.output_item.done",
                                                 "output_index": 0, "item": item}),
                  ("response.completed", {"type": "response.completed", "response": response})]
        self.stream(events)


http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
