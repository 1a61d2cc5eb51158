module example.com/echo

go 1.24

require github.com/aws/aws-lambda-go v1.55.1
