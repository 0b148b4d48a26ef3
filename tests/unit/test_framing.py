import pytest

from motia_core.protocol.framing import FrameTooLarge, LineBuffer


def test_whole_lines_in_one_chunk() -> None:
    buf = LineBuffer(100)
    assert buf.feed(b'{"a":1}\n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']
    assert buf.pending == 0


def test_lines_split_across_chunks_byte_by_byte() -> None:
    buf = LineBuffer(100)
    data = b'{"x":"\xc3\xa9"}\n{"y":[1,2]}\n'
    lines: list[bytes] = []
    for i in range(len(data)):
        lines += buf.feed(data[i : i + 1])
    assert lines == [b'{"x":"\xc3\xa9"}', b'{"y":[1,2]}']


def test_partial_line_is_kept_until_its_newline() -> None:
    buf = LineBuffer(100)
    assert buf.feed(b'{"a":') == []
    assert buf.pending == 5
    assert buf.feed(b'1}\n{"b"') == [b'{"a":1}']
    assert buf.feed(b":2}\n") == [b'{"b":2}']


def test_line_at_the_limit_is_accepted() -> None:
    buf = LineBuffer(10)
    assert buf.feed(b"x" * 10 + b"\n") == [b"x" * 10]
    assert buf.feed(b"y" * 4) == []
    assert buf.feed(b"y" * 6 + b"\n") == [b"y" * 10]


def test_complete_line_over_the_limit_fails() -> None:
    with pytest.raises(FrameTooLarge) as info:
        LineBuffer(10).feed(b"x" * 11 + b"\n")
    assert info.value.limit == 10


def test_unterminated_line_over_the_limit_fails_before_its_newline() -> None:
    buf = LineBuffer(10)
    buf.feed(b"x" * 8)
    with pytest.raises(FrameTooLarge, match="exceeds the limit of 10 bytes"):
        buf.feed(b"x" * 8)


def test_over_limit_line_after_a_good_one_in_the_same_chunk() -> None:
    with pytest.raises(FrameTooLarge):
        LineBuffer(10).feed(b"ok\n" + b"z" * 20 + b"\n")
