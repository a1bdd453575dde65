"""The RabbitMQ server of these machines, for the tests that use it for real."""
from __future__ import annotations

import aio_pika

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


async def delete_queue(queue_name: str) -> None:
    """Remove a queue a test declared (its messages go with it)."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue_name)
    finally:
        await connection.close()
