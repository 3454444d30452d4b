from django.apps import AppConfig


class AgentApiConfig(AppConfig):
    name = "server.agent_api"
    label = "agent_api"
