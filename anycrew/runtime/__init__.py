"""The engine: run scopes, the event pipe and its fan-out, the thread shim.

Nothing here knows about agents, tasks or LLMs; the domain builds on these pieces.
"""

from ._ids import (
    new_hex_id as new_hex_id,
)
from ._pipe import (
    CANCELLED_DRAIN_TIMEOUT as CANCELLED_DRAIN_TIMEOUT,
)
from ._pipe import (
    DEFAULT_BUFFER_SIZE as DEFAULT_BUFFER_SIZE,
)
from ._pipe import (
    AsyncHandler as AsyncHandler,
)
from ._pipe import (
    EventPipe as EventPipe,
)
from ._pipe import (
    OnOpen as OnOpen,
)
from ._pipe import (
    Router as Router,
)
from ._pipe import (
    RunFinishedError as RunFinishedError,
)
from ._pipe import (
    Span as Span,
)
from ._pipe import (
    Stampable as Stampable,
)
from ._pipe import (
    Subscribable as Subscribable,
)
from ._pipe import (
    SyncHandler as SyncHandler,
)
from ._pipe import (
    call_async_handlers as call_async_handlers,
)
from ._pipe import (
    call_sync_handlers as call_sync_handlers,
)
from ._pipe import (
    enter_span as enter_span,
)
from ._pipe import (
    leave_span as leave_span,
)
from ._rate import RateLimiter as RateLimiter
from ._scope import (
    Run as Run,
)
from ._scope import (
    bind as bind,
)
from ._scope import (
    bind_all as bind_all,
)
from ._scope import (
    current_parent_id as current_parent_id,
)
from ._scope import (
    current_run as current_run,
)
from ._scope import (
    current_span as current_span,
)
from ._scope import (
    emit as emit,
)
from ._scope import (
    emit_from_thread as emit_from_thread,
)
from ._scope import (
    emit_shielded as emit_shielded,
)
from ._scope import (
    open_run as open_run,
)
from ._scope import (
    span as span,
)
from ._scope import (
    unwrap_group as unwrap_group,
)
from ._scope import (
    wants as wants,
)
from ._threads import (
    CancelBridge as CancelBridge,
)
from ._threads import (
    carry_into_helper_threads as carry_into_helper_threads,
)
from ._threads import (
    checkpoint as checkpoint,
)
from ._threads import (
    checkpoint_if_cancelled as checkpoint_if_cancelled,
)
from ._threads import (
    current_backend as current_backend,
)
from ._threads import (
    loop_running_in_this_thread as loop_running_in_this_thread,
)
from ._threads import (
    run_blocking as run_blocking,
)
from ._threads import (
    run_in_worker as run_in_worker,
)
from ._threads import (
    run_sync_in_run as run_sync_in_run,
)
from ._threads import (
    thread_limiter as thread_limiter,
)
from ._threads import (
    warn_once as warn_once,
)
