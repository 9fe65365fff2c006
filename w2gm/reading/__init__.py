"""Reading a corpus: text files to the memory-mapped word ids training reads.

Each step calls only the steps above it in this list:

* :mod:`.files`     corpus paths to files, each file to blocks of (decompressed) bytes
* :mod:`.pieces`    a file cut at whitespace into pieces that can be read apart
* :mod:`.tokens`    blocks of bytes to whitespace tokens (UTF-8, binary data refused)
* :mod:`.ids`       tokens to word ids in one process: provisional ids, the vocabulary, final ids
* :mod:`.parallel`  the same ids from several processes, a piece per task
* :mod:`.corpus`    :func:`~.corpus.encode`, which takes one path or the other

Tokens become words through :mod:`w2gm.tokenize`, which queries share.
"""
