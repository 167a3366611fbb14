"""metav1.Status errors with the exact messages the real API server writes (reference §1.5, §4.10)."""


class APIError(Exception):
    """An error answered as a Status object; code is also the HTTP status."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            st["message"] = self.message
        if self.reason:
            st["reason"] = self.reason
        if self.details:
            st["details"] = self.details
        st["code"] = self.code
        return st


def _details(name, group, kind, causes=None, uid=None):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    if uid:
        d["uid"] = uid
    if causes:
        d["causes"] = causes
    return d or None


def not_found(rt, name):
    return APIError(404, "NotFound", '%s "%s" not found' % (rt.qualified_resource, name),
                    _details(name, rt.group, rt.plural))


def namespace_not_found(ns):
    return APIError(404, "NotFound", 'namespaces "%s" not found' % ns, _details(ns, "", "namespaces"))


def already_exists(rt, name, deleting=False):
    msg = '%s "%s" already exists' % (rt.qualified_resource, name)
    if deleting:
        msg = "object is being deleted: " + msg
    return APIError(409, "AlreadyExists", msg, _details(name, rt.group, rt.plural))


def conflict(rt, name, why):
    return APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (rt.qualified_resource, name, why), _details(name, rt.group, rt.plural))


def stale(rt, name):
    return conflict(rt, name, "the object has been modified; please apply your changes to the "
                    "latest version and try again")


def bad_request(message):
    return APIError(400, "BadRequest", message)


def method_not_allowed():
    return APIError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource")


def unsupported_media(types):
    return APIError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: " + ", ".join(types))


def too_large(message="the server has received a request that is too large"):
    return APIError(413, "RequestEntityTooLarge", "Request entity too large: " + message)


def internal(message):
    return APIError(500, "InternalError", "Internal error occurred: " + message)


def forbidden(message, details=None):
    return APIError(403, "Forbidden", message, details)


def unauthorized():
    return APIError(401, "Unauthorized", "Unauthorized")


ERROR_TYPES = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueNotFound": "Not found",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}


def cause(reason, field, message):
    """A status cause; message is the text after '<field>: '."""
    return {"reason": reason, "message": message, "field": field}


def invalid(qualified_kind, name, causes, group="", kind_for_details=None):
    """422 Invalid: '<Kind>[.<group>] "<name>" is invalid: <field>: <message>' (several as [a, b])."""
    parts = []
    for c in causes:
        f = c.get("field")
        parts.append("%s: %s" % (f, c.get("message", "")) if f else c.get("message", ""))
    if len(parts) == 1:
        joined = parts[0]
    else:
        joined = "[" + ", ".join(parts) + "]"
    return APIError(422, "Invalid", '%s "%s" is invalid: %s' % (qualified_kind, name, joined),
                    _details(name, group, kind_for_details or qualified_kind.split(".")[0],
                             causes=causes))


def invalid_for(rt, name, causes):
    return invalid(rt.qualified_kind, name, causes, rt.group, rt.kind)


def gone(message):
    return APIError(410, "Expired", message)


def quote_go(value):
    """Go's %q-like rendering of a value in 'Invalid value: X' messages."""
    import json as _json

    if isinstance(value, str):
        return _json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return _json.dumps(str(value))
