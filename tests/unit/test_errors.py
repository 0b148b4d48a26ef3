import pytest

from motia_core.protocol import ErrorObject, errors


@pytest.mark.parametrize(
    "cls",
    [c for c in vars(errors).values()
     if isinstance(c, type) and issubclass(c, errors.RpcError) and c is not errors.RpcError],
)
def test_every_error_round_trips_through_the_wire_object(cls: type[errors.RpcError]) -> None:
    sent = cls("something specific", {"k": 1})
    received = errors.RpcError.from_error(sent.to_error())
    assert type(received) is cls
    assert received.code == cls.CODE
    assert str(received) == "something specific"
    assert received.data == {"k": 1}


def test_codes_are_unique() -> None:
    codes = [c.CODE for c in errors.RpcError._by_code.values()]
    assert len(codes) == len(set(codes))


def test_unknown_code_keeps_the_peers_code() -> None:
    exc = errors.RpcError.from_error(ErrorObject(code=-31999, message="custom"))
    assert type(exc) is errors.RpcError
    assert exc.code == -31999
    assert exc.to_error().code == -31999


def test_default_message_is_the_class_message() -> None:
    assert str(errors.StepNotFound()) == "Step not found"


def test_internal_carries_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        wrapped = errors.RpcError.internal(exc)
    assert wrapped.code == -32603
    assert "ValueError: boom" in str(wrapped)
    assert "raise ValueError" in wrapped.data["stack"]
