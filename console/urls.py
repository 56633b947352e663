from django.contrib.auth import views as auth_views
from django.urls import include, path

from console.views import events, function_admin, function_settings, functions, history, keys, suites, team, test_tab, triggers

app_name = "console"

F = "functions/<str:name>/"

urlpatterns = [
    path("", functions.function_list, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("keys/", keys.access_keys, name="access_keys"),
    path("keys/<str:access_key_id>/revoke/", keys.revoke, name="revoke_key"),
    path("team/switch/", team.switch, name="switch_team"),
    path("team/members/", team.members, name="members"),
    path("team/members/<int:user_id>/", team.member, name="member"),
    path("team/activity/", team.team_activity, name="team_activity"),
    path("functions/new/", functions.function_create, name="function_create"),
    path(F, functions.code, name="code"),
    path(F + "code/upload/", functions.code_upload, name="code_upload"),
    path(F + "delete/", function_admin.delete, name="function_delete"),
    path(F + "team/", function_admin.move, name="function_move"),
    path(F + "configuration/", functions.configuration, name="configuration"),
    path(F + "configuration/async/", function_settings.async_config, name="async_config"),
    path(F + "configuration/url/", function_settings.url_config, name="url_config"),
    path(F + "configuration/policy/", function_settings.add_permission, name="add_permission"),
    path(F + "configuration/policy/<str:sid>/remove/", function_settings.remove_permission, name="remove_permission"),
    path(F + "activity/", team.function_activity, name="function_activity"),
    path(F + "test/", test_tab.test_page, name="test"),
    path(F + "test/run/", test_tab.run_test, name="run_test"),
    path(F + "test/runs/<int:run_id>/", test_tab.test_run, name="test_run"),
    path(F + "test/preview/", test_tab.preview, name="preview"),
    path(F + "test/validate/", test_tab.validate, name="validate"),
    path(F + "events/", events.save_event, name="save_event"),
    path(F + "events/import/", events.import_events, name="import_events"),
    path(F + "events/export/", events.export_events, name="export_events"),
    path(F + "events/<int:event_id>/rename/", events.rename_event, name="rename_event"),
    path(F + "events/<int:event_id>/duplicate/", events.duplicate_event, name="duplicate_event"),
    path(F + "events/<int:event_id>/delete/", events.delete_event, name="delete_event"),
    path(F + "events/<int:event_id>/export/", events.export_event, name="export_event"),
    path(F + "events/<int:event_id>/versions/", events.event_versions, name="event_versions"),
    path(F + "events/<int:event_id>/versions/<int:number>/restore/", events.restore_version, name="restore_version"),
    path(F + "events/<int:event_id>/approve/", events.approve_event, name="approve_event"),
    path(F + "suites/", suites.suite_list, name="suites"),
    path(F + "suites/run/", suites.run_all, name="run_suite"),
    path(F + "suites/compare/", suites.compare_suites, name="compare_suites"),
    path(F + "suites/run-on-deploy/", suites.run_on_deploy, name="suite_run_on_deploy"),
    path(F + "suites/<int:suite_id>/", suites.suite_run, name="suite_run"),
    path(F + "history/", history.function_history, name="function_history"),
    path(F + "triggers/", include(triggers.urlpatterns)),
    path("history/", history.global_history, name="history"),
    path("invocations/<str:request_id>/", history.invocation_detail, name="invocation"),
    path("invocations/<str:request_id>/replay/", history.replay, name="replay"),
    path("invocations/<str:request_id>/save/", history.save_as_event, name="save_as_event"),
    path("compare/", history.compare, name="compare"),
]
