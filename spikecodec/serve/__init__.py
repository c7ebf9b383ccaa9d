"""Co-inference as a network service: ``spikecodec serve`` runs a model's cloud half for many
edge clients at once (docs/serve.md).

:mod:`.protocol` (the frames), :mod:`.client` (:class:`ServeClient`) and, needing the ``serve``
extra's starlette and uvicorn, :mod:`.server` and :mod:`.batcher`, whose model work runs in
:mod:`.worker` processes (torch); :mod:`.ray_app` is the cloud half as a Ray Serve deployment
(the ``ray`` extra). ``import spikecodec`` imports none of this; ``import spikecodec.serve``
imports neither torch nor ray nor the server stack.
"""

from .client import ClientTimeout, Predictions, ServeClient, ServeError, ServerProtocolError, parse_address
from .protocol import PATH, VERSION, ProtocolError, read_tokens

__all__ = ["PATH", "VERSION", "ClientTimeout", "Predictions", "ProtocolError", "ServeClient", "ServeError", "ServerProtocolError",
           "parse_address", "read_tokens"]
