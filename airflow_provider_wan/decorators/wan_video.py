"""``@task.wan_video``: a TaskFlow function returns the prompt or the request; the task returns the video.

.. code-block:: python

    @task.wan_video(size="720p_16_9", duration=5, deferrable=True, max_cost_usd=1.0)
    def launch_clip(product: str) -> str:
        return f"A slow dolly shot of {product} on a marble table, soft morning light"

The function runs in the worker with its arguments (XComs, context keys) like any ``@task`` and returns

* a prompt string: the request's ``positive_prompt``; or
* a request dict, snake_case or Runware's camelCase wire form (as ``WanVideoOperator(request=...)``).

The returned value is used as it is, not rendered with Jinja: the function already has the context. The
decorator takes every ``WanVideoOperator`` argument (``deferrable``, ``max_cost_usd``, ``s3_destination``,
request fields such as ``size`` or ``duration``, which override the returned dict's keys...) except
``positive_prompt`` and ``request``, which the function returns. The task's XCom value is the operator's
contract; everything else (re-attaching on retries, deferral, landing in S3, budgets) is the operator's.
``.expand()`` maps over the function's arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory
from airflow.sdk.definitions.context import context_merge

from airflow_provider_wan.compat import AirflowFailException, determine_kwargs
from airflow_provider_wan.errors import InvalidRequestError
from airflow_provider_wan.operators.video import WanVideoOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.bases.decorator import TaskDecorator

#: Arguments the decorated function returns rather than the decorator taking them.
RETURNED_ARGUMENTS: tuple[str, ...] = ("positive_prompt", "request")


class _WanVideoDecoratedOperator(DecoratedOperator, WanVideoOperator):
    """``WanVideoOperator`` whose prompt or request is the return value of a Python callable."""

    template_fields: Sequence[str] = (*DecoratedOperator.template_fields, *WanVideoOperator.template_fields)
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **WanVideoOperator.template_fields_renderers,
    }
    custom_operator_name = "@task.wan_video"
    # The rendered-fields view shows the prompt or request the function returned.
    overwrite_rtif_after_execution = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for name in RETURNED_ARGUMENTS:
            if kwargs.get(name) is not None:
                raise InvalidRequestError(
                    f"@task.wan_video takes no {name}: the decorated function returns the prompt "
                    "(a string) or the request (a dict)",
                    parameter=name,
                )
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, **kwargs)

    def execute(self, context: Context) -> Any:
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        returned = self.python_callable(*self.op_args, **kwargs)
        try:
            self.use_returned(returned)
        except InvalidRequestError as err:  # deterministic: a retry returns the same value
            raise AirflowFailException(str(err)) from err
        return super().execute(context)

    def use_returned(self, returned: Any) -> None:
        """Take the function's return value as the prompt (a string) or the request (a dict)."""
        parameter = f"{getattr(self.python_callable, '__name__', 'function')}() return value"
        if isinstance(returned, str):
            if not returned.strip():
                raise InvalidRequestError("the returned prompt is empty", parameter=parameter)
            self.positive_prompt = returned
        elif isinstance(returned, Mapping):
            if not returned:
                raise InvalidRequestError("the returned request is empty", parameter=parameter)
            self.request = dict(returned)
        else:
            raise InvalidRequestError(
                f"must be a prompt string or a request dict, got {type(returned).__name__}",
                parameter=parameter,
            )


def wan_video_task(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = None,
    **kwargs: Any,
) -> TaskDecorator:
    """``@task.wan_video``: wrap a function returning a prompt or a request into a ``WanVideoOperator``.

    :param python_callable: the decorated function.
    :param multiple_outputs: push the XCom value's keys as separate XComs too (default False: the task's
        XCom value is the operator's contract, whatever the function's return annotation says).
    :param kwargs: ``WanVideoOperator`` arguments (all but ``positive_prompt`` and ``request``).
    """
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=bool(multiple_outputs),
        decorated_operator_class=_WanVideoDecoratedOperator,
        **kwargs,
    )
