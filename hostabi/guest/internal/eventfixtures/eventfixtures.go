// Package eventfixtures gives tests aws-lambda-go's event types and the
// JSON files of its events/testdata, the real payloads the guest SDK's
// JSON code is held to encoding/json on.
package eventfixtures

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// Types are aws-lambda-go's event types that its events/testdata has a
// file of, requests and responses.
var Types = []reflect.Type{
	reflect.TypeFor[events.ALBTargetGroupRequest](),
	reflect.TypeFor[events.ALBTargetGroupResponse](),
	reflect.TypeFor[events.APIGatewayCustomAuthorizerRequest](),
	reflect.TypeFor[events.APIGatewayCustomAuthorizerRequestTypeRequest](),
	reflect.TypeFor[events.APIGatewayCustomAuthorizerResponse](),
	reflect.TypeFor[events.APIGatewayProxyRequest](),
	reflect.TypeFor[events.APIGatewayProxyResponse](),
	reflect.TypeFor[events.APIGatewayV2CustomAuthorizerV1Request](),
	reflect.TypeFor[events.APIGatewayV2CustomAuthorizerV2Request](),
	reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	reflect.TypeFor[events.APIGatewayWebsocketProxyRequest](),
	reflect.TypeFor[events.ActiveMQEvent](),
	reflect.TypeFor[events.AppSyncCognitoIdentity](),
	reflect.TypeFor[events.AppSyncIAMIdentity](),
	reflect.TypeFor[events.AppSyncLambdaAuthorizerRequest](),
	reflect.TypeFor[events.AppSyncLambdaAuthorizerResponse](),
	reflect.TypeFor[events.AutoScalingEvent](),
	reflect.TypeFor[events.ClientVPNConnectionHandlerRequest](),
	reflect.TypeFor[events.CloudwatchLogsEvent](),
	reflect.TypeFor[events.CodeBuildEvent](),
	reflect.TypeFor[events.CodeCommitEvent](),
	reflect.TypeFor[events.CodeDeployEvent](),
	reflect.TypeFor[events.CodePipelineCloudWatchEvent](),
	reflect.TypeFor[events.CodePipelineJobEvent](),
	reflect.TypeFor[events.CognitoEvent](),
	reflect.TypeFor[events.CognitoEventUserPoolsCreateAuthChallenge](),
	reflect.TypeFor[events.CognitoEventUserPoolsCustomMessage](),
	reflect.TypeFor[events.CognitoEventUserPoolsDefineAuthChallenge](),
	reflect.TypeFor[events.CognitoEventUserPoolsInboundFederation](),
	reflect.TypeFor[events.CognitoEventUserPoolsMigrateUser](),
	reflect.TypeFor[events.CognitoEventUserPoolsPostAuthentication](),
	reflect.TypeFor[events.CognitoEventUserPoolsPostConfirmation](),
	reflect.TypeFor[events.CognitoEventUserPoolsPreAuthentication](),
	reflect.TypeFor[events.CognitoEventUserPoolsPreSignup](),
	reflect.TypeFor[events.CognitoEventUserPoolsPreTokenGen](),
	//lint:ignore SA1019 deprecated, still one of aws-lambda-go's event types, with a test file
	reflect.TypeFor[events.CognitoEventUserPoolsPreTokenGenV2](),
	reflect.TypeFor[events.CognitoEventUserPoolsVerifyAuthChallenge](),
	reflect.TypeFor[events.ConfigEvent](),
	reflect.TypeFor[events.ConnectEvent](),
	reflect.TypeFor[events.DynamoDBEvent](),
	reflect.TypeFor[events.DynamoDBTimeWindowEvent](),
	reflect.TypeFor[events.ECRImageActionEvent](),
	reflect.TypeFor[events.ECRScanEvent](),
	reflect.TypeFor[events.ECSContainerInstanceEvent](),
	reflect.TypeFor[events.IoTButtonEvent](),
	reflect.TypeFor[events.IoTCoreCustomAuthorizerRequest](),
	reflect.TypeFor[events.IoTCoreCustomAuthorizerResponse](),
	reflect.TypeFor[events.IoTOneClickEvent](),
	reflect.TypeFor[events.IoTPreProvisionHookRequest](),
	reflect.TypeFor[events.IoTPreProvisionHookResponse](),
	reflect.TypeFor[events.KafkaEvent](),
	reflect.TypeFor[events.KinesisAnalyticsOutputDeliveryEvent](),
	reflect.TypeFor[events.KinesisAnalyticsOutputDeliveryResponse](),
	reflect.TypeFor[events.KinesisEvent](),
	reflect.TypeFor[events.KinesisFirehoseEvent](),
	reflect.TypeFor[events.KinesisFirehoseResponse](),
	reflect.TypeFor[events.KinesisTimeWindowEvent](),
	reflect.TypeFor[events.LambdaFunctionURLRequest](),
	reflect.TypeFor[events.LambdaFunctionURLResponse](),
	reflect.TypeFor[events.LexEvent](),
	reflect.TypeFor[events.LexResponse](),
	reflect.TypeFor[events.RabbitMQEvent](),
	reflect.TypeFor[events.S3BatchJobEvent](),
	reflect.TypeFor[events.S3BatchJobEventV2](),
	reflect.TypeFor[events.S3BatchJobResponse](),
	reflect.TypeFor[events.S3Event](),
	reflect.TypeFor[events.S3ObjectLambdaEvent](),
	reflect.TypeFor[events.SNSEvent](),
	reflect.TypeFor[events.SQSEvent](),
	reflect.TypeFor[events.SecretsManagerSecretRotationEvent](),
	reflect.TypeFor[events.SimpleEmailEvent](),
}

// Files returns aws-lambda-go's events/testdata files, by name.
func Files(t testing.TB) map[string][]byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "events", "testdata")
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[de.Name()] = b
	}
	if len(files) < 100 {
		t.Fatalf("%d files in %s", len(files), dir)
	}
	return files
}
