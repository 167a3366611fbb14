"""HTTP/1.1 over TLS for the stand-in: keep-alive request parsing, Content-Length and chunked
responses, a 3 MiB body limit, and detection of clients that went away during a watch."""

import select
import socket
import socketserver
import ssl
import threading
import time
from urllib.parse import parse_qsl, unquote

MAX_BODY = 3 * 1024 * 1024
MAX_HEADER_LINE = 65536
MAX_HEADERS = 200
IDLE_TIMEOUT = 300.0
WRITE_TIMEOUT = 30.0

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
           409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
           415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}


class BadRequestLine(Exception):
    pass


class Request:
    __slots__ = ("method", "target", "path", "query", "headers", "body", "too_large", "user",
                 "body_error", "admission_checks")

    def __init__(self, method, target, headers):
        self.method = method
        self.target = target
        path, _, qs = target.partition("?")
        self.path = unquote(path)
        q = {}
        for k, v in parse_qsl(qs, keep_blank_values=True):
            if k not in q:
                q[k] = v
        self.query = q
        self.headers = headers
        self.body = b""
        self.too_large = False
        self.user = None
        self.body_error = None
        self.admission_checks = None  # the authorization checks admission plugins made


class Conn:
    """One client connection; used by the request loop and by watch streams."""

    def __init__(self, sock):
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.broken = False
        self.close_after = False
        self.chunked = False

    # ---- reading ---------------------------------------------------------------------------
    def read_request(self):
        line = self.rfile.readline(MAX_HEADER_LINE + 1)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_HEADER_LINE:
            raise BadRequestLine("request line too long")
        parts = line.decode("latin-1").rstrip("\r\n").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise BadRequestLine("malformed request line")
        method, target, version = parts
        headers = {}
        for _ in range(MAX_HEADERS + 1):
            h = self.rfile.readline(MAX_HEADER_LINE + 1)
            if h in (b"\r\n", b"\n", b""):
                break
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                raise BadRequestLine("malformed header")
            key = name.strip().lower()
            value = value.strip()
            if key in headers:
                if key == "accept" or key == "warning":
                    headers[key] += ", " + value
            else:
                headers[key] = value
        else:
            raise BadRequestLine("too many headers")
        req = Request(method, target, headers)
        if version == "HTTP/1.0" or headers.get("connection", "").lower() == "close":
            self.close_after = True
        te = headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            req.body = self._read_chunked(req)
        else:
            cl = headers.get("content-length")
            if cl:
                try:
                    n = int(cl)
                except ValueError:
                    raise BadRequestLine("bad content-length") from None
                if n < 0:
                    raise BadRequestLine("bad content-length")
                if n > MAX_BODY:
                    req.too_large = True
                    self.close_after = True
                    self._discard(n)
                else:
                    req.body = self._read_exact(n)
        return req

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("short body")
        return data

    def _discard(self, n):
        left = n
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)

    def _read_chunked(self, req):
        out = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("short chunked body")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequestLine("bad chunk size") from None
            if size == 0:
                while True:
                    t = self.rfile.readline(MAX_HEADER_LINE)
                    if t in (b"\r\n", b"\n", b""):
                        break
                break
            total += size
            data = self._read_exact(size)
            self.rfile.readline(4)
            if total > MAX_BODY:
                req.too_large = True
                self.close_after = True
                continue
            out.append(data)
        return b"" if req.too_large else b"".join(out)

    # ---- writing ---------------------------------------------------------------------------
    def send(self, code, body, ctype, headers=()):
        head = ["HTTP/1.1 %d %s\r\n" % (code, REASONS.get(code, "Unknown")),
                "Content-Type: %s\r\n" % ctype,
                "Cache-Control: no-cache, private\r\n",
                "Content-Length: %d\r\n" % len(body)]
        for k, v in headers:
            head.append("%s: %s\r\n" % (k, v))
        if self.close_after:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        self.sock.sendall("".join(head).encode("latin-1") + body)

    def start_chunked(self, code, ctype, headers=()):
        head = ["HTTP/1.1 %d %s\r\n" % (code, REASONS.get(code, "Unknown")),
                "Content-Type: %s\r\n" % ctype,
                "Cache-Control: no-cache, private\r\n",
                "Transfer-Encoding: chunked\r\n"]
        for k, v in headers:
            head.append("%s: %s\r\n" % (k, v))
        head.append("\r\n")
        self.sock.settimeout(WRITE_TIMEOUT)
        self.sock.sendall("".join(head).encode("latin-1"))
        self.chunked = True

    def send_chunk(self, data):
        if data:
            self.sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunked(self):
        self.sock.sendall(b"0\r\n\r\n")
        self.chunked = False

    def peer_closed(self):
        """True when the client closed its end (checked while a watch is idle)."""
        try:
            r, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not r:
            return False
        old = self.sock.gettimeout()
        try:
            self.sock.settimeout(0.01)
            data = self.rfile.peek(1)
            return data == b""
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return False
        except (OSError, ValueError):
            return True
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass

    def close(self):
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class TLSServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    block_on_close = False

    def __init__(self, addr, ssl_context, app):
        self.ssl_context = ssl_context
        self.app = app
        self.open_conns = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.ssl_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        server = self.server
        try:
            sock.settimeout(10)
            sock.do_handshake()
        except (OSError, ssl.SSLError, ValueError):
            return
        conn = Conn(sock)
        with server.conn_lock:
            server.open_conns.add(conn)
        try:
            while not conn.broken:
                sock.settimeout(IDLE_TIMEOUT)
                try:
                    req = conn.read_request()
                except BadRequestLine as e:
                    conn.close_after = True
                    body = ("400 Bad Request: %s" % e).encode()
                    conn.send(400, body, "text/plain; charset=utf-8")
                    break
                except (OSError, ValueError, ConnectionError):
                    break
                if req is None:
                    break
                sock.settimeout(WRITE_TIMEOUT)
                started = time.monotonic()
                try:
                    server.app.serve(req, conn, started)
                except (OSError, ValueError):
                    break
                if conn.close_after or conn.broken:
                    break
        finally:
            with server.conn_lock:
                server.open_conns.discard(conn)
            conn.close()
