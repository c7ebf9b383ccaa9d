"""The compiled (numba) kernels of the array codecs, one module per seam.

Never imported by ``import spikecodec``: the codecs load a module on first use with
:func:`spikecodec._kernel_cache.load_kernels` (which first makes sure numba has a writable
cache), e.g. ``load_kernels("spikecodec.codecs.kernels.context")``; numba then compiles each
function on its first call, or loads it from its cache. Modules import only public names from
each other, in this order (lower first):

* :mod:`.ops` - numba helpers: unsigned indices, fused multiply-add, an optimiser barrier, a
  branch-free select.
* :mod:`.counters` - adaptive counter pairs and their exact probability arithmetic
  (FORMAT.md 9.4.2), for any prior weight.
* :mod:`.rans` - the rANS coder (FORMAT.md 9.4.3): encoder, decoding step, code length.
* :mod:`.window` - the ``context`` model's causal context window and the decoders' tiling.
* :mod:`.context` - the ``order0`` / ``context`` model (9.4.4, 9.4.5): encoder, decoder.
* :mod:`.lanes` - ``ctxlanes`` (9.4.8): four ``context`` streams in lockstep.
* :mod:`.fast_layout`, :mod:`.fast_contexts`, :mod:`.fast_magnitudes`, :mod:`.fast_plain` - the
  parts of ``ctxfast`` (9.4.12), in this order: its lane layout, the context parts on its padded
  significance copy, its magnitude pass, and its path for planes without padding.
* :mod:`.fast` - ``ctxfast`` (9.4.12): a wide context in four sample lanes sharing counters; the
  module the codec loads.
* :mod:`.countctx` - the ``countctx`` model (9.4.7): encoder, decoder.
* :mod:`.binary` - the binary arithmetic coder with byte output, its state words and integer
  tables (9.4.9), shared by the two context-mixing codecs.
* :mod:`.ctxmix` - ``ctxmix`` (9.4.9): context mixing of position, neighbourhood and history.
* :mod:`.mix` - ``mix`` (9.4.10): context mixing sample by sample, channels innermost, with the
  pixel-vector models.
* :mod:`.neuronmix` - ``neuronmix`` (9.4.17): neuron by neuron, a flag for a silent neuron,
  then a firing one's steps, with :mod:`.binary`'s arithmetic.
* :mod:`.histogram` - ``auto``'s order-0 size estimate (9.4.6).
* :mod:`.transpose` - in-place transpose for decoders whose output has no canonical view.

The bit packing of elements (FORMAT.md 8), a layer below the codecs, is
:mod:`spikecodec._packing_kernels`, loaded the same way.
"""
