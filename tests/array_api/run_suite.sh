#!/usr/bin/env bash
# Run the Array API conformance suite (data-apis/array-api-tests, spec 2024.12) against
# theon through tests/array_api/theon_array_api.py. Not part of CI: the suite is code
# fetched from the network (see README.md here for how to get it).
#
# usage: tests/array_api/run_suite.sh PATH_TO_ARRAY_API_TESTS [more pytest arguments]
set -euo pipefail
suite=${1:?usage: run_suite.sh PATH_TO_ARRAY_API_TESTS [pytest arguments]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$suite"
export ARRAY_API_TESTS_MODULE=theon_array_api
export ARRAY_API_TESTS_VERSION=2024.12
export PYTHONPATH="$root/tests/array_api:$root${PYTHONPATH:+:$PYTHONPATH}"
exec python -m pytest array_api_tests --max-examples=20 --hypothesis-seed=0 \
    --disable-deadline -p no:cacheprovider -q -rf "$@"
