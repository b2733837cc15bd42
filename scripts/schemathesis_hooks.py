"""Hooks for the API conformance run: how to send the bodies of a resumable upload's chunk."""

import schemathesis


@schemathesis.serializer("application/offset+octet-stream")
def chunk(ctx, value):
    """A chunk of an upload is raw bytes."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()
