"""CurveZMQ security: roles and what each may send (roles), key files (keys), CURVE sockets and
the ZAP authenticator (curve)."""
