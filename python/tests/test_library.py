"""Finding and loading libw4a16, and its errors as Python exceptions."""
import os
import re
import subprocess
import sys

import pytest

import w4a16
from w4a16 import _capi, errors
from conftest import REPO


def project_version():
    cmake = (REPO / "CMakeLists.txt").read_text()
    return re.search(r"project\(w4a16 VERSION ([0-9.]+)", cmake).group(1)


def test_version_is_the_projects():
    assert w4a16.version() == project_version()


def test_installed_metadata_has_the_same_version():
    from importlib import metadata
    try:
        installed = metadata.version("w4a16")
    except metadata.PackageNotFoundError:
        pytest.skip("the package is not installed (running from the source tree)")
    assert installed == project_version()


def test_library_path():
    path = w4a16.library_path()
    assert os.path.isfile(path)
    named = os.environ.get(w4a16.LIBRARY_ENV)
    if named:
        assert path == os.path.abspath(named)
    else:  # the one pip installed inside the package
        assert os.path.dirname(path) == os.path.dirname(os.path.abspath(w4a16.__file__))


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_a_missing_named_library_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "libnothing.so")
    result = run_python("import w4a16; w4a16.version()", W4A16_LIBRARY=missing)
    assert result.returncode != 0
    assert f"W4A16_LIBRARY='{missing}' is not a file" in result.stderr
    assert "LibraryNotFoundError" in result.stderr


def test_a_file_that_is_not_a_library_is_a_clear_error(tmp_path):
    fake = tmp_path / "libw4a16.so"
    fake.write_text("not a shared object")
    result = run_python("import w4a16; w4a16.version()", W4A16_LIBRARY=str(fake))
    assert result.returncode != 0
    assert f"cannot load {fake}" in result.stderr


def test_the_library_named_by_the_environment_is_loaded():
    built = REPO / "build" / "libw4a16.so"
    if not built.exists():
        pytest.skip(f"no {built} to name")
    result = run_python("import w4a16; print(w4a16.library_path()); print(w4a16.version())",
                        W4A16_LIBRARY=str(built))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(built), project_version()]


def test_import_without_loading():
    # The library loads on first use, so importing works even where it is missing.
    result = run_python("import w4a16; print('imported')", W4A16_LIBRARY="/nonexistent/lib.so")
    assert result.returncode == 0 and "imported" in result.stdout


@pytest.mark.parametrize("status,expected", [
    (_capi.ERR_ARG, (w4a16.ArgumentError, ValueError)),
    (_capi.ERR_SHAPE, (w4a16.ShapeError, ValueError)),
    (_capi.ERR_UNSUPPORTED, (w4a16.UnsupportedError,)),
    (_capi.ERR_FORMAT, (w4a16.FormatError, ValueError)),
    (_capi.ERR_IO, (w4a16.CheckpointIOError, OSError)),
    (_capi.ERR_NOMEM, (w4a16.OutOfMemoryError, MemoryError)),
    (_capi.ERR_CUDA, (w4a16.CudaError,)),
])
def test_each_status_has_its_exception(status, expected):
    error = errors.error_for(status, "context")
    assert isinstance(error, w4a16.W4A16Error) and isinstance(error, expected)
    assert error.status == status and error.status_text
    assert str(error).startswith("context")


def test_the_message_is_the_libraries_last_error():
    with pytest.raises(w4a16.ShapeError) as raised:
        w4a16.quantize(__import__("numpy").ones((4, 40), dtype="float32"), 32)
    assert raised.value.message == "K=40 is not a multiple of group_size=32"
    assert str(raised.value) == "K=40 is not a multiple of group_size=32 (shape mismatch)"


def test_device_count_without_a_gpu():
    count = w4a16.device_count()
    if count:
        pytest.skip(f"{count} GPU(s) here")
    assert count == 0
