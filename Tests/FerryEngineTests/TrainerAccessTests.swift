@testable import FerryEngine
import Testing

/// What a retraining policy may run, and what its trainer sees of the server.
struct TrainerAccessTests {
    @Test(arguments: [
        (["python3", "/opt/ml/train.py", "--fast"], ["python3 /opt/ml/train.py"], true),
        (["python3", "-c", "import os"], ["python3 /opt/ml/train.py"], false),
        (["python3", "-c", "import os"], ["python3"], true),
        (["python"], ["python3"], false),
        (["sh", "x.sh"], [], false),
    ])
    func theOperatorsListAdmitsCommandsByTheirFirstWords(_ argv: [String], _ trainers: [String], _ admitted: Bool) {
        #expect(Retrainer.allowed(argv, by: trainers) == admitted)
    }

    @Test func trainersNeverSeeTheServersSecrets() {
        let env = Retrainer.trainerEnvironment([
            "PATH": "/usr/bin", "HOME": "/root", "FERRY_ADMIN_KEY": "fry_secret", "FERRY_DATABASE_URL": "postgres://u:p@h/d",
            "MLFLOW_TRACKING_TOKEN": "fry_trainer", "AWS_SECRET_ACCESS_KEY": "x",
        ])
        #expect(env == ["PATH": "/usr/bin", "HOME": "/root", "MLFLOW_TRACKING_TOKEN": "fry_trainer"])
    }
}
